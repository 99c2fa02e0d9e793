"""Retention in intake. Intake forwards what it receives (its outbox) and answers idempotent
retries; the decision service is the record of each case and holds its legal holds. So intake
keeps requesters' names, contacts, reasons and the post as reported only for
MODQ_RETENTION_INTAKE_DAYS (90 by default): then the report row keeps its ids, kind, times, the
post's id, URL and SHA-256, and nothing else of a person's."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from shared.db import Database, utcnow
from shared.settings import env_int
from services.intake.models import Report

BATCH = 500


def intake_period() -> dt.timedelta:
    return dt.timedelta(days=env_int("MODQ_RETENTION_INTAKE_DAYS", 90))


def _removed(report: Report) -> bool:
    return bool((report.reporter or {}).get("removed"))


def apply_retention(db: Database, now: dt.datetime | None = None) -> int:
    cutoff = (now or utcnow()) - intake_period()
    removed = 0
    last_id = ""
    while True:
        with db.unit_of_work() as uow:
            batch = list(uow.session.scalars(sa.select(Report).where(Report.received_at < cutoff, Report.id > last_id)
                                             .order_by(Report.id).limit(BATCH)))
            for report in batch:
                if _removed(report):
                    continue
                report.reporter = {"id": report.reporter_id, "removed": True}
                report.reason = None
                report.post = {**{k: report.post.get(k) for k in ("id", "url", "author_id")}, "text": "",
                               "posted_at": report.post.get("posted_at"), "media": [], "removed": True}
                removed += 1
            uow.commit()
        if len(batch) < BATCH:
            return removed
        last_id = batch[-1].id
