"""Pure rules of the audit log's hash chain (no Flask, no Kafka, no database)."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

GENESIS = "0" * 64


def canonical(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def chain_hash(prev_hash: str, *, seq: int, case_id: str | None, event_type: str, actor: str,
               at: dt.datetime, payload: str, key: bytes | None) -> str:
    """HMAC-SHA256 under ``key`` of the previous hash and the entry; ``key=None`` is the plain
    SHA-256 of entries written before the log was keyed."""
    body = canonical({"seq": seq, "case_id": case_id, "event_type": event_type, "actor": actor,
                      "at": at.astimezone(dt.timezone.utc).isoformat(), "payload": payload})
    message = (prev_hash + body).encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
