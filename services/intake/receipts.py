"""Request numbers (受付番号) that a person can read out on the phone or type back: ten
characters of Crockford's base32 alphabet (digits and capitals without I, L, O, U), nine random
and one check character, shown as ``XXXXX-XXXXX``. The report keeps its UUID as the id the
services share; the number is intake's, unique in its table (a clash, about one in 35 trillion per
pair, is a write retried with another number).

The check character is Luhn mod 32 (not Crockford's mod-37 symbols ``*~$=U``, which are awkward
to read out): it catches every wrong character and every swap of two neighbours but 0 and Z.
Reading is forgiving: lower case, O for 0, I or L for 1, hyphens and spaces."""
from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_LENGTH = 9
LENGTH = RANDOM_LENGTH + 1
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def check_symbol(body: str) -> str:
    """Luhn mod 32 over ``body``: every second value from the right doubled, digits summed in base 32."""
    factor, total = 2, 0
    for char in reversed(body):
        addend = factor * ALPHABET.index(char)
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return ALPHABET[-total % 32]


def new_receipt_number() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + check_symbol(body)


def display(number: str | None) -> str:
    """``ABCDE-FGHJK``: two groups of five are easier to read out and copy."""
    return f"{number[:5]}-{number[5:]}" if number and len(number) == LENGTH else (number or "")


def parse(text: str) -> str | None:
    """The stored form of a number as someone typed it, or None if it is not a valid one."""
    cleaned = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if len(cleaned) != LENGTH or not set(cleaned) <= set(ALPHABET):
        return None
    return cleaned if check_symbol(cleaned[:-1]) == cleaned[-1] else None
