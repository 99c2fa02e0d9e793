"""Builders shared by the tests."""
from __future__ import annotations

import datetime as dt
import json
import threading
import uuid

from shared.signing import signed_headers


def report_body(kind: str = "report", *, post_id: str | None = None, reporter_id: str = "u-reporter",
                text: str = "お前なんか消えろ", rights_holder: bool = False, **over) -> dict:
    body = {
        "kind": kind,
        "post": {"id": post_id or f"p-{uuid.uuid4().hex[:8]}", "url": "https://sns.example.jp/posts/1",
                 "author_id": "u-poster", "text": text,
                 "posted_at": (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).isoformat()},
        "reporter": {"id": reporter_id, "is_rights_holder": rights_holder, "contact": "mail:r@example.jp"},
        "reason": "私への誹謗中傷です" if kind == "deletion_request" else "嫌がらせ",
        "right_infringed": "名誉権" if kind == "deletion_request" else None,
    }
    body.update(over)
    return body


def signed(body: dict | bytes, client: str = "demo", secret: str = "demo-secret", key: str | None = None,
           timestamp: int | None = None) -> tuple[bytes, dict]:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = signed_headers(client, secret, raw, timestamp)
    if key is not None:
        headers["Idempotency-Key"] = key
    return raw, headers


def due_today_jst(hour: int = 12) -> dt.datetime:
    """A receipt time seven days ago (``hour`` o'clock JST) whose §25 deadline is the end of
    today in JST: less than 24 hours away, and not yet past, at whatever time a test runs."""
    from shared.clock import legal_zone

    today = dt.datetime.now(legal_zone()).date()
    return dt.datetime.combine(today - dt.timedelta(days=7), dt.time(hour),
                               tzinfo=legal_zone()).astimezone(dt.timezone.utc)


def in_parallel(target, count: int) -> None:
    """Run ``target(n)`` for n in range(count), each in its own thread, and wait for all."""
    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
