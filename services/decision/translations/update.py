"""Refresh the English catalogue from the Japanese source strings and compile it.

    .venv/bin/python -m services.decision.translations.update

Collects every ``_()`` / ``gettext()`` string of the decision service's Python files and
templates, keeps the English already written in en/LC_MESSAGES/messages.po, adds new strings
with an empty translation (they show in Japanese until translated), lists them, and writes
messages.mo next to it.
"""
from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

SERVICE = Path(__file__).resolve().parent.parent
PO = SERVICE / "translations" / "en" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}


def source_strings() -> list[str]:
    found: dict[str, None] = {}
    # The service's modules and each concept folder's (cases/, criteria/, users/, ...).
    modules = [p for p in sorted(SERVICE.rglob("*.py")) if not {"migrations", "translations"} & set(p.parts)]
    sources = [("python", p) for p in modules]
    sources += [("jinja2.ext:babel_extract", p) for p in sorted((SERVICE / "templates").glob("*.html"))]
    for method, path in sources:
        for _line, message, _comments, _context in extract_from_file(method, str(path), keywords=KEYWORDS):
            if isinstance(message, str) and message:
                found.setdefault(message)
    return list(found)


def main() -> int:
    old = read_po(PO.open("rb")) if PO.exists() else Catalog(locale="en")
    catalog = Catalog(locale="en", project="modq decision", fuzzy=False)
    missing = []
    for message in source_strings():
        translated = old.get(message).string if old.get(message) else ""
        catalog.add(message, translated)
        if not translated:
            missing.append(message)
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as out:
        write_po(out, catalog, width=0, omit_header=False, sort_output=True)
    with PO.with_suffix(".mo").open("wb") as out:
        write_mo(out, catalog)
    for message in missing:
        print(f"untranslated: {message}")
    print(f"{len(catalog)} strings, {len(missing)} untranslated -> {PO}")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
