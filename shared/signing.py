"""HMAC request signing between SNS backends and modq.

Headers: ``X-Modq-Client`` (client id), ``X-Modq-Timestamp`` (unix seconds) and
``X-Modq-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``.
Timestamps more than 300 s away from now are refused; each signature is accepted once
(the caller stores accepted signatures until they expire).
"""
from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from typing import Mapping, Sequence

TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """Authentication failed; ``str(exc)`` is the reason shown to the client."""


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode("utf-8"), ts.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Modq-Timestamp": ts, "X-Modq-Signature": f"v1={digest}"}


def signed_headers(client_id: str, secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    return {"X-Modq-Client": client_id, "Content-Type": "application/json", **sign(secret, body, timestamp)}


class ReplayGuard:
    """Signatures accepted in this process within twice the timestamp tolerance (after that the
    timestamp check refuses a replay anyway). For endpoints without a database of their own to
    keep used signatures in; a service with one (intake) keeps them there, across workers."""

    def __init__(self, ttl_seconds: float = 2 * TOLERANCE_SECONDS, size: int = 200_000):
        self.ttl, self.size = ttl_seconds, size
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def accept(self, signature: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) < now or len(self._seen) >= self.size):
                self._seen.popitem(last=False)
            if signature in self._seen:
                raise SignatureError("signature already used (replay)")
            self._seen[signature] = now + self.ttl


def verify(headers, body: bytes, clients: Mapping[str, Sequence[str]], now: float | None = None,
           replay: ReplayGuard | None = None) -> tuple[str, str]:
    """Return (client_id, signature) or raise SignatureError with the reason. With ``replay``,
    a signature is accepted once."""
    client_id = headers.get("X-Modq-Client")
    timestamp = headers.get("X-Modq-Timestamp")
    signature = headers.get("X-Modq-Signature")
    if not client_id or not timestamp or not signature:
        raise SignatureError("missing X-Modq-Client, X-Modq-Timestamp or X-Modq-Signature header")
    secrets = clients.get(client_id)
    if not secrets:
        raise SignatureError("unknown client")
    # ASCII digits only: str.isdigit() also accepts "²" or "١", which int() then refuses.
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise SignatureError("X-Modq-Timestamp must be unix seconds")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise SignatureError("stale or future timestamp (tolerance ±300 s)")
    if not signature.startswith("v1="):
        raise SignatureError("unsupported signature scheme (expected v1=)")
    given = signature[3:].strip().lower()
    if len(given) != 64 or not all(ch in "0123456789abcdef" for ch in given):
        # compare_digest refuses non-ASCII text; a malformed value is simply a wrong signature.
        raise SignatureError("signature does not match")
    message = timestamp.encode("ascii") + b"." + body
    for secret in secrets:  # two secrets may be valid during a rotation
        expected = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, given):
            if replay is not None:
                replay.accept(given, now)
            return client_id, given
    raise SignatureError("signature does not match")
