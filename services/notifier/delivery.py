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
from services.notifier.models import Notice, Outbox, TrackedRequest

log = logging.getLogger(__name__)

RECEIPTS = Counter("modq_notice_receipts_total", "Delivery receipts received", ["status"])
REPUBLISHED = Counter("modq_notices_republished_total", "Failed notices published again")
UNDELIVERABLE = Counter("modq_notices_undeliverable_total", "Notices that failed too often (alerted)")

UNREACHABLE_BASIS = {"N4": "第27条ただし書第3号", "INQ": "第6条第1項・第3条第2項第2号（照会不能）",
                     "REV": "第27条ただし書第3号"}
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


REQUESTER_NOTICE_TYPES = ("ACK", "N1", "N2", "N3", "REVR")


def _tracked(session: Session, notice: Notice) -> TrackedRequest | None:
    return session.get(TrackedRequest, notice.request_id) if notice.request_id else None


def _request_notified(session: Session, notice: Notice, at: dt.datetime | None) -> None:
    """Whether the request counts as notified follows the notice's fate: a notice that never
    arrived is no notice, and the §25 clock watches the request again."""
    tracked = _tracked(session, notice)
    if tracked is None:
        return
    if notice.notice_type in ("N1", "N2"):
        tracked.final_notice_at = at if at is None else (tracked.final_notice_at or at)
    elif notice.notice_type == "N3":
        tracked.interim_notice_at = at if at is None else (tracked.interim_notice_at or at)


def mark_delivered(session: Session, notice: Notice, delivered_at: dt.datetime, now: dt.datetime) -> None:
    notice.status = "delivered"
    notice.delivered_at = delivered_at
    notice.next_attempt_at = None
    if notice.escalated_at is not None:
        _request_notified(session, notice, now)  # delivered another way after all
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
    """A poster's notice is shown where the post was (the SNS's placeholder). A requester has
    no such place: the request is recorded as not notified, for a 正当な理由 (§25(1))."""
    notice.status = "unreachable"
    notice.next_attempt_at = None
    to_requester = notice.notice_type in REQUESTER_NOTICE_TYPES
    exception = record_exception(
        session, notice_type=notice.notice_type, reason_code=RECIPIENT_UNREACHABLE, case_id=notice.case_id,
        request_id=notice.request_id, decision_id=notice.decision_id, related_notice_id=notice.notice_id,
        legal_basis=UNREACHABLE_BASIS.get(notice.notice_type, "第25条第1項（正当な理由）"),
        fallback=None if to_requester else PLACEHOLDER, now=now,
        detail=("申出者の連絡先に到達できないため通知できず（正当な理由）" if to_requester else
                "受信者に到達できないため、投稿の表示箇所（プレースホルダー）に通知内容を掲示")
               + (f"：{detail}" if detail else ""))
    if to_requester and notice.notice_type != "ACK":
        _request_notified(session, notice, None)
        tracked = _tracked(session, notice)
        if tracked is not None:
            tracked.exception_id = tracked.exception_id or exception.id


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
    _request_notified(session, notice, None)
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
