"""Text compared as people read it: the same words in full- or half-width, with other spacing
or case are the same (NFKC, no whitespace, casefolded)."""
from __future__ import annotations

import unicodedata


def comparable(text: str | None) -> str:
    return "".join(unicodedata.normalize("NFKC", text or "").split()).casefold()
