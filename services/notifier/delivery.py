"""Delivery tracking from the SNS's receipts (``jp.modq.notice.receipt.v1``).

- ``delivered``: recorded with its time; for an INQ the poster's reply deadline starts there
  (§3(2)(ii)), so it is computed, stored and published (``jp.modq.inquiry.delivered.v1``).
- ``failed``: the same notice (same id) is published again after a backoff; after
  MODQ_NOTICE_MAX_FAILURES failures an alert asks a person to act.
- ``unreachable``: a 正当な理由 is recorded with the fallback: the SNS shows the notice where
  the post was (its placeholder), which the SNS reports by sending this receipt.
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from prometheus_client import Counter
from sqlalchemy.orm import Session

from shared import clock
from shared.db import Database, utcnow
from shared.events import INQUIRY_DELIVERED, Envelope, make_event, stable_id
from shared.outbox import stage
from services.notifier import config
from services.notifier.exemptions import RECIPIENT_UNREACHABLE
from services.notifier.issuing import SOURCE, find_notice, raise_alert, record_exception
from services.notifier.models import Notice, Outbox

log = logging.getLogger(__name__)

RECEIPTS = Counter("modq_notice_receipts_total", "Delivery receipts received", ["status"])
REPUBLISHED = Counter("modq_notices_republished_total", "Failed notices published again")
UNDELIVERABLE = Counter("modq_notices_undeliverable_total", "Notices that failed too often (alerted)")

UNREACHABLE_BASIS = {"N4": "§27ただし書(iii)", "INQ": "§6(1)・§3(2)(ii)（照会不能）"}
PLACEHOLDER = "placeholder"


def on_receipt(session: Session, env: Envelope, now: dt.datetime) -> None:
    data = env.data
    RECEIPTS.labels(data["status"]).inc()
    notice = find_notice(session, data["notice_id"])
    if notice is None:
        log.warning("receipt for unknown notice %s", data["notice_id"])
        return
    notice.last_receipt = f"{data['status']}: {data.get('detail') or ''}"
    if notice.status == "delivered":
        return  # a late failure report does not undo a delivery
    if data["status"] == "delivered":
        mark_delivered(session, notice, clock.parse_instant(data["at"]), now)
    elif data["status"] == "unreachable":
        mark_unreachable(session, notice, data.get("detail"), now)
    else:
        schedule_retry(session, notice, now)


def mark_delivered(session: Session, notice: Notice, delivered_at: dt.datetime, now: dt.datetime) -> None:
    notice.status = "delivered"
    notice.delivered_at = delivered_at
    notice.next_attempt_at = None
    if notice.notice_type == "INQ":
        start_reply_window(session, notice, delivered_at, now)


def start_reply_window(session: Session, notice: Notice, delivered_at: dt.datetime, now: dt.datetime) -> None:
    """The poster's reply period runs from delivery (7 days, 2 for election/AV requests)."""
    details = notice.body.get("details") or {}
    request_type = details.get("request_type") or "ordinary"
    days = int(details.get("reply_days") or clock.inquiry_days(request_type))
    deadline = clock.period_end(delivered_at, days)
    notice.reply_deadline_at = deadline
    data = {"notice_id": notice.notice_id, "case_id": notice.case_id, "decision_id": notice.decision_id,
            "poster_id": notice.recipient_id, "post_id": details.get("post_id"), "request_type": request_type,
            "reply_days": days, "delivered_at": delivered_at.isoformat(), "reply_deadline_at": deadline.isoformat(),
            "measure_allowed_from": (deadline + dt.timedelta(microseconds=1)).isoformat()}
    stage(session, Outbox, make_event(INQUIRY_DELIVERED, source=SOURCE, subject=notice.case_id, data=data, time=now,
                                      id=stable_id("inquiry-delivered", notice.notice_id)),
          INQUIRY_DELIVERED.topic, key=notice.case_id)


def mark_unreachable(session: Session, notice: Notice, detail: str | None, now: dt.datetime) -> None:
    notice.status = "unreachable"
    notice.next_attempt_at = None
    record_exception(
        session, notice_type=notice.notice_type, reason_code=RECIPIENT_UNREACHABLE, case_id=notice.case_id,
        request_id=notice.request_id, decision_id=notice.decision_id, related_notice_id=notice.notice_id,
        legal_basis=UNREACHABLE_BASIS.get(notice.notice_type, "§25(1)（正当な理由）"), fallback=PLACEHOLDER, now=now,
        detail="受信者に到達できないため、投稿の表示箇所（プレースホルダー）に通知内容を掲示"
               + (f"：{detail}" if detail else ""))


def schedule_retry(session: Session, notice: Notice, now: dt.datetime) -> None:
    """Back off before publishing again; escalate once the failures reach the limit."""
    notice.failures = (notice.failures or 0) + 1
    notice.status = "failed"
    if notice.failures >= config.max_delivery_failures():
        notice.next_attempt_at = None
        escalate(session, notice, now)
        return
    notice.next_attempt_at = now + config.retry_delay(notice.failures)


def escalate(session: Session, notice: Notice, now: dt.datetime) -> None:
    if notice.escalated_at is not None:
        return
    notice.escalated_at = now
    UNDELIVERABLE.inc()
    raise_alert(session, alert="notice_undeliverable", case_id=notice.case_id, request_id=notice.request_id,
                detail=f"{notice.notice_type} {notice.notice_id} failed {notice.failures} times; "
                       "deliver it another way or record a 正当な理由",
                key=("undeliverable", notice.notice_id), now=now)


def republish_due(db: Database, now: dt.datetime | None = None) -> int:
    """Publish again (same id) every failed notice whose backoff has passed."""
    now = now or utcnow()
    with db.unit_of_work() as uow:
        due = uow.session.scalars(sa.select(Notice).where(
            Notice.status == "failed", Notice.next_attempt_at.is_not(None), Notice.next_attempt_at <= now)).all()
        for notice in due:
            uow.session.execute(sa.update(Outbox).where(Outbox.event_id == notice.notice_id)
                                .values(published_at=None))
            notice.attempts += 1
            notice.status = "sent"
            notice.next_attempt_at = None
            REPUBLISHED.inc()
        uow.commit()
        return len(due)
