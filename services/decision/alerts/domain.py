"""The urgent-case webhook's rules, pure: its settings, the alert's JSON (no post text and no
personal data: only ids, figures and a link), the signature a receiver checks, and how long to
wait before trying a failed delivery again."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import urlsplit

from shared import clock
from shared.settings import InsecureSetting, dev_mode, env, env_float, env_int

SIGNATURE_HEADER = "X-Modq-Signature"
ALERT_TYPE = "jp.modq.case.urgent.v1"


@dataclasses.dataclass(frozen=True)
class WebhookSettings:
    url: str
    secret: str | None
    timeout_seconds: float = 5.0
    max_attempts: int = 12
    base_delay_seconds: float = 30.0
    max_delay_seconds: float = 3600.0
    batch: int = 50


def webhook_enabled() -> bool:
    """Whether alerts are written at all (checked on the projection's path: no validation there,
    a bad URL stops the worker at start instead, see ``webhook_settings``)."""
    return bool((env("MODQ_URGENT_WEBHOOK_URL") or "").strip())


def webhook_settings() -> WebhookSettings | None:
    """None when no URL is set (the default: the webhook is off). Outside development mode a
    plain-http URL is refused: the alert would cross the network readable and unauthenticated."""
    url = (env("MODQ_URGENT_WEBHOOK_URL") or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InsecureSetting("MODQ_URGENT_WEBHOOK_URL must be an https:// address")
    if parts.scheme != "https" and not dev_mode():
        raise InsecureSetting("MODQ_URGENT_WEBHOOK_URL must use https outside development mode")
    return WebhookSettings(url=url, secret=env("MODQ_URGENT_WEBHOOK_SECRET") or None,
                           timeout_seconds=env_float("MODQ_URGENT_WEBHOOK_TIMEOUT_SECONDS", 5.0),
                           max_attempts=env_int("MODQ_URGENT_WEBHOOK_MAX_ATTEMPTS", 12))


def alert_body(*, case_id: str, priority: float, category: str | None, deadline_at: dt.datetime | None,
               reason: str, became_urgent_at: dt.datetime, case_url: str) -> bytes:
    """The JSON sent: the case id doubles as the alert's id, so a receiver drops a repeat."""
    return json.dumps({
        "type": ALERT_TYPE, "id": case_id, "case_id": case_id, "priority": round(priority, 1),
        "category": category, "reason": reason,
        "deadline_at": clock.to_jst_iso(deadline_at) if deadline_at else None,
        "became_urgent_at": clock.to_jst_iso(became_urgent_at), "case_url": case_url,
    }, ensure_ascii=False, sort_keys=True).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``: the timestamp is signed too,
    so a receiver can refuse an old alert replayed."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does (and the tests check): recompute and compare in constant time."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not fields.get("t", "").isdigit():
        return False
    return hmac.compare_digest(signature(secret, int(fields["t"]), body), header)


def retry_delay(attempts: int, settings: WebhookSettings) -> dt.timedelta:
    """Doubling from the base after each failed attempt, capped."""
    seconds = settings.base_delay_seconds * 2 ** max(0, attempts - 1)
    return dt.timedelta(seconds=min(settings.max_delay_seconds, seconds))
