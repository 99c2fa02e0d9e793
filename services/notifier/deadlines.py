"""The §25 clock: every deletion request must have had N1/N2 or an N3 before its deadline.

A periodic job (MODQ_CLOCK_CHECK_SECONDS) looks at every open request: once it is within
the warning window (shared.clock.warning_window: MODQ_S25_WARNING_HOURS, 24 h) with neither a final nor an interim
notice, a ``s25_deadline_near`` alert goes out (once); if the deadline passes with neither,
a ``s25_deadline_overdue`` alert (once). Gauges show how many are in each state now.
Repeat requests under the §25(1) proviso owe no notice and are not watched.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from prometheus_client import Counter, Gauge

from shared import clock
from shared.db import Database, utcnow
from services.notifier.issuing import raise_alert
from services.notifier.models import TrackedRequest

DEADLINE_ALERTS = Counter("modq_s25_deadline_alerts_total", "§25 deadline alerts raised", ["alert"])
NEAR_DEADLINE = Gauge("modq_requests_near_deadline",
                      "Open deletion requests within the warning window without N1/N2/N3")
OVERDUE = Gauge("modq_requests_overdue", "Deletion requests past the §25 deadline without N1/N2/N3")


def open_requests_due_by(session, instant: dt.datetime) -> list[TrackedRequest]:
    return session.scalars(sa.select(TrackedRequest).where(
        TrackedRequest.final_notice_at.is_(None), TrackedRequest.interim_notice_at.is_(None),
        TrackedRequest.exception_id.is_(None), TrackedRequest.deadline_at <= instant)).all()


def check_deadlines(db: Database, now: dt.datetime | None = None) -> int:
    """Raise the alerts due now; returns how many were raised."""
    now = now or utcnow()
    raised = 0
    with db.unit_of_work() as uow:
        due = open_requests_due_by(uow.session, now + clock.warning_window())
        overdue = [r for r in due if r.deadline_at < now]
        NEAR_DEADLINE.set(len(due) - len(overdue))
        OVERDUE.set(len(overdue))
        for req in due:
            raised += _alert_once(uow.session, req, overdue=req.deadline_at < now, now=now)
        uow.commit()
    return raised


def _alert_once(session, req: TrackedRequest, *, overdue: bool, now: dt.datetime) -> int:
    if (req.overdue_alerted_at if overdue else req.warned_at) is not None:
        return 0
    alert = "s25_deadline_overdue" if overdue else "s25_deadline_near"
    raise_alert(session, alert=alert, case_id=req.case_id, request_id=req.report_id,
                detail=f"§25 deadline {clock.to_jst_iso(req.deadline_at)}: no decision and no interim notice",
                key=("deadline", alert, req.report_id), now=now)
    if overdue:
        req.overdue_alerted_at = now
    req.warned_at = req.warned_at or now
    DEADLINE_ALERTS.labels(alert).inc()
    return 1
