"""What the browser tests share besides their fixtures (tests/browser/conftest.py): where
Debian's Chromium is, how it is started, and where screenshots go."""
from __future__ import annotations

from pathlib import Path

from shared.settings import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = REPO_ROOT / "var" / "screenshots"


def screenshot(page, name: str, *, full_page: bool = True):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
