"""Retention in the notifier: a notice that reached its recipient (or never can) keeps the
recipient's contact for MODQ_RETENTION_NOTICE_DAYS (1095 by default) after it was issued, and a
tracked §22 request keeps its requester's contact as long after its final notice; then only the
ids remain. The notice's type, legal basis, times and text stay: they record that the operator
notified as the law requires."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from shared.db import Database, utcnow
from shared.settings import env_int
from services.notifier.models import Notice, TrackedRequest

FINAL_STATUSES = ("delivered", "unreachable")  # nothing will be sent again


def notice_period() -> dt.timedelta:
    return dt.timedelta(days=env_int("MODQ_RETENTION_NOTICE_DAYS", 3 * 365))


def apply_retention(db: Database, now: dt.datetime | None = None) -> dict:
    cutoff = (now or utcnow()) - notice_period()
    counts = {"notices": 0, "requests": 0}
    with db.unit_of_work() as uow:
        notices = uow.session.scalars(sa.select(Notice).where(Notice.status.in_(FINAL_STATUSES),
                                                              Notice.issued_at < cutoff)).all()
        for notice in notices:
            recipient = notice.body.get("recipient") or {}
            if set(recipient) - {"id"}:
                notice.body = {**notice.body, "recipient": {"id": notice.recipient_id}}
                counts["notices"] += 1
        requests = uow.session.scalars(sa.select(TrackedRequest).where(TrackedRequest.final_notice_at < cutoff)).all()
        for request in requests:
            if not request.requester.get("removed"):
                request.requester = {"id": request.requester_id, "removed": True}
                counts["requests"] += 1
        uow.commit()
    return counts
