"""HMAC request signing between SNS backends and modq.

Headers: ``X-Modq-Client`` (client id), ``X-Modq-Timestamp`` (unix seconds) and
``X-Modq-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``.
Timestamps more than 300 s away from now are refused; each signature is accepted once
(the caller stores accepted signatures until they expire).
"""
from __future__ import annotations

import hashlib
import hmac
import time
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


def verify(headers, body: bytes, clients: Mapping[str, Sequence[str]], now: float | None = None) -> tuple[str, str]:
    """Return (client_id, signature) or raise SignatureError with the reason."""
    client_id = headers.get("X-Modq-Client")
    timestamp = headers.get("X-Modq-Timestamp")
    signature = headers.get("X-Modq-Signature")
    if not client_id or not timestamp or not signature:
        raise SignatureError("missing X-Modq-Client, X-Modq-Timestamp or X-Modq-Signature header")
    secrets = clients.get(client_id)
    if not secrets:
        raise SignatureError("unknown client")
    if not timestamp.isdigit():
        raise SignatureError("X-Modq-Timestamp must be unix seconds")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise SignatureError("stale or future timestamp (tolerance ±300 s)")
    if not signature.startswith("v1="):
        raise SignatureError("unsupported signature scheme (expected v1=)")
    given = signature[3:].strip().lower()
    message = timestamp.encode("ascii") + b"." + body
    for secret in secrets:  # two secrets may be valid during a rotation
        expected = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, given):
            return client_id, given
    raise SignatureError("signature does not match")
