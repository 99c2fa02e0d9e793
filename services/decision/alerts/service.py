"""Urgent-case alerts: written by the projection in the transaction that makes a case urgent
(``note_if_urgent``), sent by a periodic job of the worker (``deliver_due``).

Each case is alerted once: its row is keyed by the case, and a delivered row is never sent
again. Delivery is at least once in between: a replica that dies after the receiver accepted
and before the row is marked sends it again when its lease runs out, with the same ``id``.
A failing or slow receiver costs only this job's thread: the other jobs and the consumers run
in their own, each attempt has a timeout, and a pass stops at the first failure."""
from __future__ import annotations

import datetime as dt
import logging
import time

import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import Database, utcnow
from shared.settings import public_url
from services.decision.alerts import domain
from services.decision.alerts.domain import WebhookSettings
from services.decision.alerts.models import UrgentAlert
from services.decision.cases import queue_view
from services.decision.cases.models import Case

log = logging.getLogger(__name__)


def note_if_urgent(session: Session, case: Case, now: dt.datetime) -> None:
    """Stage the case's alert if the webhook is on and the case is urgent now, by the same rule
    as the queue page's /queue/urgent (queue_view.urgency), and has never been alerted."""
    if not domain.webhook_enabled():
        return
    reason = queue_view.urgency(case, now)
    if reason is None or session.get(UrgentAlert, case.id) is not None:
        return
    if queue_view.waits_for_poster(session, case, now):
        return
    session.add(UrgentAlert(case_id=case.id, priority=case.priority, category=case.top_category,
                            deadline_at=case.next_deadline_at, reason=reason, created_at=now,
                            attempts=0, next_attempt_at=now))
    # Flushed at once: a pending row is not in the identity map, and the projection handles a
    # batch without autoflush, so a second report in the batch would add a second row.
    session.flush()


def deliver_due(db: Database, settings: WebhookSettings | None = None, now: dt.datetime | None = None) -> dict:
    """Send the alerts that are due; returns how many were delivered and how many failed."""
    settings = settings or domain.webhook_settings()
    if settings is None:
        return {"delivered": 0, "failed": 0}
    now = now or utcnow()
    with db.sessions() as session:
        due = session.scalars(sa.select(UrgentAlert.case_id).where(
            UrgentAlert.delivered_at.is_(None), UrgentAlert.next_attempt_at <= now)
            .order_by(UrgentAlert.next_attempt_at).limit(settings.batch)).all()
    done = {"delivered": 0, "failed": 0}
    for case_id in due:
        alert = _claim(db, case_id, settings, now)
        if alert is None:
            continue  # another replica holds it
        error = _send(settings, alert)
        _record(db, case_id, error, settings, utcnow())
        done["failed" if error else "delivered"] += 1
        if error:
            break  # the receiver is failing: the rest wait for the next pass instead of piling on
    return done


def _claim(db: Database, case_id: str, settings: WebhookSettings, now: dt.datetime) -> dict | None:
    """Take the row for one attempt: an atomic update, so two replicas never send it at once.
    The lease covers the attempt; past it the row is due again."""
    lease = now + dt.timedelta(seconds=2 * settings.timeout_seconds + 30)
    with db.unit_of_work() as uow:
        taken = uow.session.execute(
            sa.update(UrgentAlert).where(UrgentAlert.case_id == case_id, UrgentAlert.delivered_at.is_(None),
                                         UrgentAlert.next_attempt_at <= now)
            .values(attempts=UrgentAlert.attempts + 1, last_attempt_at=now, next_attempt_at=lease)
            .execution_options(synchronize_session=False)).rowcount == 1
        row = uow.session.get(UrgentAlert, case_id) if taken else None
        alert = None if row is None else {
            "case_id": row.case_id, "priority": row.priority, "category": row.category,
            "deadline_at": row.deadline_at, "reason": row.reason, "became_urgent_at": row.created_at}
        uow.commit()
    return alert


def _send(settings: WebhookSettings, alert: dict) -> str | None:
    """POST the alert; None on a 2xx answer, otherwise what went wrong (no redirects followed:
    a redirect is an error to fix in the setting)."""
    body = domain.alert_body(**alert, case_url=f"{public_url('decision')}/cases/{alert['case_id']}")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "modq-decision"}
    if settings.secret:
        headers[domain.SIGNATURE_HEADER] = domain.signature(settings.secret, int(time.time()), body)
    try:
        response = requests.post(settings.url, data=body, headers=headers, timeout=settings.timeout_seconds,
                                 allow_redirects=False)
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


def _record(db: Database, case_id: str, error: str | None, settings: WebhookSettings, now: dt.datetime) -> None:
    with db.unit_of_work() as uow:
        row = uow.session.get(UrgentAlert, case_id)
        if error is None:
            row.delivered_at, row.next_attempt_at, row.last_error = now, None, None
        else:
            row.last_error = error
            gave_up = row.attempts >= settings.max_attempts
            row.next_attempt_at = None if gave_up else now + domain.retry_delay(row.attempts, settings)
            log.warning("urgent alert for case %s failed (attempt %d%s): %s", case_id, row.attempts,
                        ", giving up" if gave_up else "", error)
        uow.commit()


def pending(session: Session) -> list[UrgentAlert]:
    """Alerts not delivered yet (given up ones included), for operators and tests."""
    return list(session.scalars(sa.select(UrgentAlert).where(UrgentAlert.delivered_at.is_(None))
                                .order_by(UrgentAlert.created_at)))
