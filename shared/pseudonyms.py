"""Keyed pseudonyms: HMAC-SHA256 under MODQ_PSEUDONYM_KEY, so a pseudonym cannot be reversed
by hashing guessed e-mail addresses, and one purpose's pseudonym never equals another's."""
from __future__ import annotations

import hashlib
import hmac

from shared.settings import pseudonym_key


def pseudonym(purpose: str, value: str, length: int = 32) -> str:
    digest = hmac.new(pseudonym_key().encode("utf-8"), f"{purpose}|{value}".encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:length]
