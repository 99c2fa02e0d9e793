"""Issuing notices, alerts and recorded exceptions inside the caller's transaction.

Every notice goes to the outbox with its stable id, so it leaves exactly when the
transaction that decided it commits, and a replay re-sends the very same event.
"""
from __future__ import annotations

import datetime as dt
import logging

from prometheus_client import Counter
from sqlalchemy.orm import Session

from shared.events import ALERT, POSTER_NOTICE, REQUESTER_NOTICE, make_event, stable_id
from shared.outbox import stage
from services.notifier import notices
from services.notifier.models import Notice, NoticeException, Outbox

log = logging.getLogger(__name__)
SOURCE = "/modq/notifier"

NOTICES_ISSUED = Counter("modq_notices_issued_total", "Notices issued", ["notice_type"])
NOTICES_HELD = Counter("modq_notices_held_total", "Notices held for missing content", ["notice_type"])
EXCEPTIONS_RECORDED = Counter("modq_notice_exceptions_total", "Notices not sent, by legal reason",
                              ["notice_type", "reason_code"])

POSTER_NOTICE_TYPES = ("N4", "INQ", "REV")  # REVR (a lifted measure, told to a requester) is a requester notice


def issue(session: Session, *, notice_type: str, notice_id: str, case_id: str, recipient: dict,
          fields: dict, request_id: str | None = None, decision_id: str | None = None,
          now: dt.datetime) -> Notice:
    """Validate, render and stage one notice. Idempotent on ``notice_id``. A notice missing
    required content is stored as held (not sent) and an alert goes out instead; a later
    cause with complete content sends it under the same id (it was never published)."""
    existing = find_notice(session, notice_id)
    if existing is not None and existing.status != "held":
        return existing
    text_ja, text_en, held = _render(notice_type, fields, recipient)
    body = _body(notice_type, notice_id, case_id, recipient, fields, request_id, decision_id, text_ja, text_en, now)
    notice = existing or Notice(notice_id=notice_id, attempts=1, failures=0)
    _fill(notice, body, fields, recipient, status="held" if held else "sent", held_reason=held, now=now)
    if existing is None:
        session.add(notice)
        pending_notices(session)[notice_id] = notice
    if held:
        NOTICES_HELD.labels(notice_type).inc()
        raise_alert(session, alert="notice_held", case_id=case_id, request_id=request_id,
                    detail=f"{notice_type} {notice_id} held: {held}", key=("held", notice_id, decision_id), now=now)
        return notice
    event_type = POSTER_NOTICE if notice_type in POSTER_NOTICE_TYPES else REQUESTER_NOTICE
    envelope = make_event(event_type, source=SOURCE, subject=case_id, id=notice_id, data=body, time=now)
    # No outbox row can exist for a notice that was absent or held, so this skips stage()'s look-up.
    session.add(Outbox(event_id=notice_id, topic=event_type.topic, key=recipient["id"], event_type=envelope.type,
                       subject=case_id, payload=envelope.to_json(), created_at=now, attempts=0))
    NOTICES_ISSUED.labels(notice_type).inc()
    return notice


def pending_notices(session: Session) -> dict[str, Notice]:
    """Notices added in this transaction and not flushed yet (flushing after each one would
    cost more than the rest of the handling); look-ups check here before the database."""
    return session.info.setdefault("modq_pending_notices", {})


def find_notice(session: Session, notice_id: str) -> Notice | None:
    return pending_notices(session).get(notice_id) or session.get(Notice, notice_id)


def _render(notice_type: str, fields: dict, recipient: dict) -> tuple[str, str | None, str | None]:
    try:
        text_ja, text_en = notices.render(notice_type, fields, recipient.get("locale") or "ja")
        return text_ja, text_en, None
    except notices.MissingContent as exc:
        return "", None, f"missing: {exc}"


def _body(notice_type, notice_id, case_id, recipient, fields, request_id, decision_id, text_ja, text_en, now) -> dict:
    return {
        "notice_id": notice_id, "notice_type": notice_type, "legal_basis": notices.LEGAL_BASIS[notice_type],
        "case_id": case_id, "request_id": request_id, "decision_id": decision_id,
        "recipient": {k: recipient.get(k) for k in ("id", "contact", "locale") if recipient.get(k) is not None},
        "text_ja": text_ja, "text_en": text_en, "details": fields, "issued_at": now.isoformat(),
    }


def _fill(notice: Notice, body: dict, fields: dict, recipient: dict, *, status: str, held_reason: str | None,
          now: dt.datetime) -> None:
    event_type = POSTER_NOTICE if body["notice_type"] in POSTER_NOTICE_TYPES else REQUESTER_NOTICE
    notice.notice_type = body["notice_type"]
    notice.legal_basis = body["legal_basis"]
    notice.case_id = body["case_id"]
    notice.request_id = body["request_id"]
    notice.decision_id = body["decision_id"]
    notice.recipient_id = recipient["id"]
    notice.topic = event_type.topic
    notice.body = body
    notice.status = status
    notice.held_reason = held_reason
    notice.issued_at = now
    notice.measure = fields.get("measure")
    notice.clause_id = (fields.get("clause") or {}).get("id")
    notice.delay_item = fields.get("delay_item")


def raise_alert(session: Session, *, alert: str, case_id: str, request_id: str | None, detail: str,
                key: tuple, now: dt.datetime) -> None:
    log.warning("alert %s: %s", alert, detail, extra={"case_id": case_id})
    stage(session, Outbox, make_event(ALERT, source=SOURCE, subject=case_id, id=stable_id("alert", *key), data={
        "alert": alert, "case_id": case_id, "request_id": request_id, "detail": detail,
        "raised_at": now.isoformat()}, time=now), ALERT.topic, key=case_id)


def record_exception(session: Session, *, notice_type: str, reason_code: str, case_id: str, detail: str | None,
                     request_id: str | None = None, decision_id: str | None = None,
                     related_notice_id: str | None = None, legal_basis: str | None = None,
                     fallback: str | None = None, now: dt.datetime) -> NoticeException:
    """Record that a notice is not sent and why (counted in the §28 report). Idempotent."""
    exc_id = stable_id("exception", notice_type, decision_id, request_id, related_notice_id
                       if reason_code == "recipient_unreachable" else None)
    existing = session.get(NoticeException, exc_id)
    if existing is not None:
        return existing
    exception = NoticeException(id=exc_id, notice_type=notice_type, reason_code=reason_code, detail=detail,
                                case_id=case_id, request_id=request_id, decision_id=decision_id,
                                related_notice_id=related_notice_id, legal_basis=legal_basis, fallback=fallback,
                                recorded_at=now)
    session.add(exception)
    session.flush()
    EXCEPTIONS_RECORDED.labels(notice_type, reason_code).inc()
    return exception
