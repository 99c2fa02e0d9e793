"""Opinion inquiries to the poster (照会, §3(2)(ii)): the inquiry a ``poster_inquiry`` decision
opens, its delivery (the reply window starts), and the poster's replies."""
from __future__ import annotations

import datetime as dt
import logging
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared import clock
from shared.db import Database, utcnow
from shared.events import Envelope, stable_id
from services.decision.audit.chain import append_audit
from services.decision.cases.models import Case, CaseReport
from services.decision.decisions.models import Decision
from services.decision.errors import DecisionRefused
from services.decision.inquiries.models import PosterInquiry, PosterReply

log = logging.getLogger(__name__)


def open_inquiry(session: Session, case: Case, decision: Decision, reports: list[CaseReport],
                 now: dt.datetime) -> None:
    """Track the inquiry the notifier is about to send. Its INQ notice id is named here and
    carried in ``decision.recorded``, so the delivery receipt and the poster's reply match it."""
    request_type = clock.inquiry_request_type(
        (r.request_type, r.right_infringed) for r in reports if r.treated_as == "deletion_request")
    session.add(PosterInquiry(decision_id=decision.id, case_id=case.id, notice_id=stable_id("notice", "INQ", decision.id),
                              request_type=request_type, sent_at=now, outcome="waiting"))
    case.ready_to_decide_at = None


def _start_reply_window(session: Session, inquiry: PosterInquiry, case: Case, delivered_at: dt.datetime,
                        window_ends_at: dt.datetime) -> None:
    """The window runs from delivery, as the notifier counted it; replies that came before
    the delivery event are judged now. Without an objection in time the case is ready to
    decide from the instant after the window ends."""
    inquiry.delivered_at = delivered_at
    inquiry.window_ends_at = window_ends_at
    inquiry.outcome = "waiting"
    for reply in session.scalars(sa.select(PosterReply).where(PosterReply.decision_id == inquiry.decision_id)):
        reply.late = reply.received_at > window_ends_at
        if reply.objection and not reply.late:
            inquiry.outcome = "objected"
    if inquiry.outcome == "waiting" and case.status == "open":
        case.ready_to_decide_at = inquiry.window_ends_at + dt.timedelta(microseconds=1)
    elif inquiry.outcome == "objected":
        case.ready_to_decide_at = None


def _reply_window_end(inquiry: PosterInquiry, delivered_at: dt.datetime) -> dt.datetime:
    """The window a reply is judged against: the notifier's, once delivery is known; before
    that, the same count (shared.clock) from the delivery time the SNS states."""
    return inquiry.window_ends_at or clock.inquiry_deadline(delivered_at, inquiry.request_type)


def on_inquiry_delivered(session: Session, env: Envelope, now: dt.datetime | None = None) -> None:
    """The notifier saw the INQ notice reach the poster: the reply window starts."""
    data = env.data
    inquiry = session.get(PosterInquiry, data["decision_id"]) or session.scalar(
        sa.select(PosterInquiry).where(PosterInquiry.notice_id == data["notice_id"]))
    if inquiry is None:
        log.warning("delivery of unknown inquiry %s", data["decision_id"])
        return
    if inquiry.delivered_at is not None:
        return
    case = session.get(Case, inquiry.case_id)
    session.flush()
    _start_reply_window(session, inquiry, case, clock.parse_instant(data["delivered_at"]),
                        clock.parse_instant(data["reply_deadline_at"]))
    append_audit(session, case_id=case.id, event_type="inquiry.delivered", actor="system:notifier",
                 payload={"decision_id": inquiry.decision_id, "delivered_at": data["delivered_at"],
                          "window_ends_at": inquiry.window_ends_at.isoformat()}, at=now)


def record_poster_reply(session: Session, data: dict, *, reply_id: str, actor: str,
                        now: dt.datetime | None = None) -> PosterReply:
    """Store a poster's reply once (the same ``reply_id`` returns the first record).

    An objection inside the window takes the case off 判断可能; a late one is kept and logged
    but changes nothing (§3(2)(ii): only an objection within the window counts)."""
    now = now or utcnow()
    existing = session.get(PosterReply, reply_id)
    if existing is not None:
        return existing
    inquiry = session.get(PosterInquiry, data["decision_id"])
    if inquiry is None or inquiry.case_id != data["case_id"]:
        raise DecisionRefused("この案件にその意見照会はありません（no such inquiry on this case）", "decision_id",
                              status=404)
    case = session.get(Case, inquiry.case_id)
    if data["poster_id"] != case.author_id:
        raise DecisionRefused("回答者が投稿者と一致しません（poster_id is not the post's author）", "poster_id",
                              status=422)
    received_at, delivered_at = _reply_instant(data, "received_at"), _reply_instant(data, "delivered_at")
    if received_at < delivered_at:
        raise DecisionRefused("回答日時が照会の到達より前です（received_at before delivered_at）", "received_at",
                              status=422)
    window_ends_at = _reply_window_end(inquiry, delivered_at)
    late = received_at > window_ends_at
    reply = PosterReply(id=reply_id, case_id=case.id, decision_id=inquiry.decision_id, poster_id=data["poster_id"],
                        objection=bool(data["objection"]), text=(data.get("text") or "").strip(),
                        received_at=received_at, delivered_at=delivered_at, late=late, recorded_at=now)
    session.add(reply)
    if reply.objection and not late:
        inquiry.outcome = "objected"
        case.ready_to_decide_at = None
    event_type = "poster.late_objection" if reply.objection and late else "poster.reply"
    append_audit(session, case_id=case.id, event_type=event_type, actor=actor, at=now, payload={
        "reply_id": reply_id, "decision_id": inquiry.decision_id, "objection": reply.objection, "late": late,
        "received_at": received_at.isoformat(), "delivered_at": delivered_at.isoformat(),
        "window_ends_at": window_ends_at.isoformat(), "window_from_delivery_event": inquiry.delivered_at is not None})
    session.flush()
    return reply


def _reply_instant(data: dict, field: str) -> dt.datetime:
    value = data[field]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise DecisionRefused(f"{field} needs a UTC offset", field, status=422)
        return value.astimezone(dt.timezone.utc)
    try:
        return clock.parse_instant(value)
    except (TypeError, ValueError):
        raise DecisionRefused(f"{field}: ISO 8601 date-time with offset expected", field, status=422) from None


def submit_poster_reply(db: Database, data: dict, *, reply_id: str | None,
                        actor: str) -> tuple[PosterReply, dt.datetime]:
    """Record a reply; gives it with the end of its reply window."""
    with db.unit_of_work() as uow:
        reply = record_poster_reply(uow.session, data, reply_id=reply_id or str(uuid.uuid4()), actor=actor)
        window_ends_at = _reply_window_end(uow.session.get(PosterInquiry, reply.decision_id), reply.delivered_at)
        uow.commit()
        return reply, window_ends_at


def on_poster_reply(session: Session, env: Envelope) -> None:
    """A reply from the Kafka topic. One that names no known inquiry cannot be retried into
    validity: it is logged and dropped rather than blocking the topic."""
    try:
        with session.begin_nested():
            record_poster_reply(session, env.data, reply_id=env.id, actor="system:sns")
    except DecisionRefused as exc:
        log.warning("poster reply %s refused: %s", env.id, exc.message)
