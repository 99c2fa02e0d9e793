"""Notifier service layer: turn received requests and recorded decisions into notices, once.

Notice ids are derived from what caused them (the request, the decision), so redelivery,
restarts and outbox replays can never produce a second notice with a different id.
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from prometheus_client import Counter, Gauge
from sqlalchemy.orm import Session

from shared import clock
from shared.db import Database, utcnow
from shared.events import (ALERT, NOTICE_RECEIPT, POSTER_NOTICE, REPORT_RECEIVED, REQUESTER_NOTICE,
                           DECISION_RECORDED, Envelope, make_event, stable_id)
from shared.outbox import claim_inbox, stage
from services.notifier import notices
from services.notifier.models import Inbox, Notice, NoticeException, Outbox, TrackedRequest

log = logging.getLogger(__name__)
SOURCE = "/modq/notifier"

NOTICES_ISSUED = Counter("modq_notices_issued_total", "Notices issued", ["notice_type"])
NOTICES_HELD = Counter("modq_notices_held_total", "Notices held for missing content", ["notice_type"])
DEADLINE_ALERTS = Counter("modq_s25_deadline_alerts_total", "§25 deadline warnings raised")
NEAR_DEADLINE = Gauge("modq_requests_near_deadline", "Open deletion requests within the warning window")

EXCEPTION_TEXT = {
    "own_post": "事業者自らの投稿に対する措置",
    "legal_duty": "法令上の義務に基づく措置",
    "urgent_unforeseen": "緊急かつ予見できなかった類型の情報に対する措置",
}


def warning_window() -> dt.timedelta:
    from shared.settings import env_float

    return dt.timedelta(hours=env_float("MODQ_S25_WARNING_HOURS", 24.0))


# --- issuing ------------------------------------------------------------------------------

def issue(session: Session, *, notice_type: str, notice_id: str, case_id: str, recipient: dict,
          fields: dict, request_id: str | None = None, decision_id: str | None = None,
          now: dt.datetime) -> Notice:
    """Validate, render and stage one notice. Idempotent on ``notice_id``. A notice missing
    required content is stored as held (not sent) and an alert goes out instead."""
    existing = session.get(Notice, notice_id)
    if existing is not None:
        return existing
    event_type = POSTER_NOTICE if notice_type in ("N4", "INQ") else REQUESTER_NOTICE
    locale = recipient.get("locale") or "ja"
    try:
        text_ja, text_en = notices.render(notice_type, fields, locale)
        status, held = "sent", None
    except notices.MissingContent as exc:
        text_ja, text_en, status, held = "", None, "held", f"missing: {exc}"
    body = {
        "notice_id": notice_id, "notice_type": notice_type, "legal_basis": notices.LEGAL_BASIS[notice_type],
        "case_id": case_id, "request_id": request_id, "decision_id": decision_id,
        "recipient": {k: recipient.get(k) for k in ("id", "contact", "locale") if recipient.get(k) is not None},
        "text_ja": text_ja, "text_en": text_en, "details": fields, "issued_at": now.isoformat(),
    }
    notice = Notice(notice_id=notice_id, notice_type=notice_type, legal_basis=body["legal_basis"], case_id=case_id,
                    request_id=request_id, decision_id=decision_id, recipient_id=recipient["id"],
                    topic=event_type.topic, body=body, status=status, held_reason=held, issued_at=now, attempts=1)
    session.add(notice)
    session.flush()
    if status == "sent":
        stage(session, Outbox, make_event(event_type, source=SOURCE, subject=case_id, id=notice_id, data=body,
                                          time=now), event_type.topic, key=recipient["id"])
        NOTICES_ISSUED.labels(notice_type).inc()
    else:
        NOTICES_HELD.labels(notice_type).inc()
        raise_alert(session, alert="notice_held", case_id=case_id, request_id=request_id,
                    detail=f"{notice_type} {notice_id} held: {held}", key=("held", notice_id), now=now)
    return notice


def raise_alert(session: Session, *, alert: str, case_id: str, request_id: str | None, detail: str,
                key: tuple, now: dt.datetime) -> None:
    log.warning("alert %s: %s", alert, detail, extra={"case_id": case_id})
    stage(session, Outbox, make_event(ALERT, source=SOURCE, subject=case_id, id=stable_id("alert", *key), data={
        "alert": alert, "case_id": case_id, "request_id": request_id, "detail": detail,
        "raised_at": now.isoformat()}, time=now), ALERT.topic, key=case_id)


def record_exception(session: Session, *, notice_type: str, reason_code: str, case_id: str, detail: str | None,
                     request_id: str | None = None, decision_id: str | None = None,
                     related_notice_id: str | None = None, now: dt.datetime) -> None:
    exc_id = stable_id("exception", notice_type, decision_id, request_id)
    if session.get(NoticeException, exc_id) is None:
        session.add(NoticeException(id=exc_id, notice_type=notice_type, reason_code=reason_code, detail=detail,
                                    case_id=case_id, request_id=request_id, decision_id=decision_id,
                                    related_notice_id=related_notice_id, recorded_at=now))


# --- handlers -------------------------------------------------------------------------------

def on_report_received(session: Session, env: Envelope, now: dt.datetime) -> None:
    data = env.data
    if data["treated_as"] != "deletion_request":
        return  # reports (通報) have no §25 duty
    received_at = clock.parse_instant(data["received_at"])
    deadline_at = clock.parse_instant(data["deadline_at"]) if data.get("deadline_at") else clock.s25_deadline(received_at)
    if session.get(TrackedRequest, data["report_id"]) is None:
        session.add(TrackedRequest(report_id=data["report_id"], case_id=data["case_id"], requester=data["reporter"],
                                   request_type=data.get("request_type") or "ordinary",
                                   is_repeat=bool(data.get("is_repeat")), received_at=received_at,
                                   deadline_at=deadline_at))
        session.flush()
    issue(session, notice_type="ACK", notice_id=stable_id("notice", "ACK", data["report_id"]), case_id=data["case_id"],
          recipient=data["reporter"], request_id=data["report_id"], now=now, fields={
              "request_id": data["report_id"], "received_at": data["received_at"],
              "received_at_text": clock.jst_text(received_at), "deadline_at": deadline_at.isoformat(),
              "deadline_text": clock.jst_text(deadline_at)})


def _scope_text(scope: dict | None) -> str | None:
    if not scope:
        return None
    parts = []
    if scope.get("items"):
        parts.append("一部（" + "、".join(scope["items"]) + "）")
    if scope.get("visibility") == "japan_only":
        parts.append("日本国内からの閲覧のみ制限")
    return "／".join(parts) or None


def on_decision_recorded(session: Session, env: Envelope, now: dt.datetime) -> None:
    d = env.data
    case_id, decision_id = d["case_id"], d["decision_id"]
    decided_at = clock.parse_instant(d["decided_at"])
    requests = [r for r in d.get("requests", []) if r.get("kind") == "deletion_request"]
    post = d["post"]
    if d["final"]:
        for r in requests:
            tracked = session.get(TrackedRequest, r["report_id"])
            if tracked is not None and tracked.final_notice_at is not None:
                continue  # the request already got its final notice
            ntype = "N2" if d["measure"] == "no_action" else "N1"
            notice_id = stable_id("notice", "final", r["report_id"])
            issue(session, notice_type=ntype, notice_id=notice_id, case_id=case_id, recipient=r["requester"],
                  request_id=r["report_id"], decision_id=decision_id, now=now, fields={
                      "request_id": r["report_id"], "measure": d["measure"], "decided_at": d["decided_at"],
                      "decided_at_text": clock.jst_text(decided_at), "reason": d.get("reason"),
                      "post_url": post["url"], "scope_text": _scope_text(d.get("scope"))})
            if tracked is not None:
                tracked.final_notice_at = now
        if d["measure"] in ("remove", "hide", "suspend_account"):
            _poster_notice(session, d, now)
        return
    # non-final steps: interim notice N3 to each waiting requester, INQ to the poster
    item = d.get("delay_item")
    for r in requests:
        tracked = session.get(TrackedRequest, r["report_id"])
        if tracked is not None and (tracked.final_notice_at or tracked.interim_notice_at):
            continue
        issue(session, notice_type="N3", notice_id=stable_id("notice", "N3", r["report_id"]), case_id=case_id,
              recipient=r["requester"], request_id=r["report_id"], decision_id=decision_id, now=now, fields={
                  "request_id": r["report_id"], "delay_item": item,
                  "delay_reason": d.get("reason") if item == "iii" else None})
        if tracked is not None:
            tracked.interim_notice_at = now
    if d["action"] == "poster_inquiry":
        first = requests[0] if requests else {}
        request_type = first.get("request_type") or "ordinary"
        days = clock.inquiry_days(request_type)
        issue(session, notice_type="INQ", notice_id=stable_id("notice", "INQ", decision_id), case_id=case_id,
              recipient=d["poster"], decision_id=decision_id, now=now, fields={
                  "post_url": post["url"], "post_text": post["text"],
                  "right_infringed": first.get("right_infringed") or d.get("facts") or "",
                  "reason": first.get("reason") or d.get("reason"), "reply_days": days,
                  "request_type": request_type})


def _poster_notice(session: Session, d: dict, now: dt.datetime) -> None:
    notice_id = stable_id("notice", "N4", d["decision_id"])
    suspension_until = clock.parse_instant(d["suspension_until"]) if d.get("suspension_until") else None
    issue(session, notice_type="N4", notice_id=notice_id, case_id=d["case_id"], recipient=d["poster"],
          decision_id=d["decision_id"], now=now, fields={
              "measure": d["measure"], "post_id": d["post"]["id"], "post_url": d["post"]["url"],
              "clause": d.get("clause"), "exception_code": d.get("exception_code"),
              "exception_text": EXCEPTION_TEXT.get(d.get("exception_code") or "", ""),
              "facts": d.get("facts") or d.get("reason"), "scope_text": _scope_text(d.get("scope")),
              "suspension_until_text": clock.jst_text(suspension_until) if suspension_until else None,
              "notice_ref": notice_id[:8]})


def on_receipt(session: Session, env: Envelope, now: dt.datetime) -> None:
    data = env.data
    notice = session.get(Notice, data["notice_id"])
    if notice is None:
        log.warning("receipt for unknown notice %s", data["notice_id"])
        return
    notice.last_receipt = f"{data['status']}: {data.get('detail') or ''}"
    if data["status"] == "delivered":
        notice.status = "delivered"
        notice.delivered_at = clock.parse_instant(data["at"])
    elif data["status"] == "unreachable":
        notice.status = "unreachable"
        # 正当な理由: the recipient cannot be reached; the SNS shows the notice on the post's placeholder.
        record_exception(session, notice_type=notice.notice_type, reason_code="recipient_unreachable",
                         case_id=notice.case_id, request_id=notice.request_id, decision_id=notice.decision_id,
                         related_notice_id=notice.notice_id, now=now,
                         detail="受信者に到達できないため、投稿の表示箇所に通知を掲示（fallback: placeholder notice）")
    elif data["status"] == "failed":
        notice.status = "failed"
        if notice.attempts < 5:
            notice.attempts += 1
            # Publish the same notice again (same id): the SNS side de-duplicates on notice_id.
            session.execute(sa.update(Outbox).where(Outbox.event_id == notice.notice_id).values(published_at=None))
        else:
            raise_alert(session, alert="notice_undeliverable", case_id=notice.case_id, request_id=notice.request_id,
                        detail=f"{notice.notice_type} {notice.notice_id} failed {notice.attempts} times",
                        key=("undeliverable", notice.notice_id), now=now)


HANDLERS = {
    REPORT_RECEIVED.name: ("ack-requests", on_report_received),
    DECISION_RECORDED.name: ("decision-notices", on_decision_recorded),
    NOTICE_RECEIPT.name: ("receipts", on_receipt),
}


def handle_events(db: Database, envelopes: list[Envelope]) -> None:
    # Report events come before decisions in a batch so a request is tracked before its notice.
    order = {REPORT_RECEIVED.name: 0, DECISION_RECORDED.name: 1, NOTICE_RECEIPT.name: 2}
    with db.unit_of_work() as uow:
        now = utcnow()
        for env in sorted(envelopes, key=lambda e: order.get(e.type, 9)):
            consumer, handler = HANDLERS[env.type]
            if claim_inbox(uow.session, Inbox, consumer, env):
                handler(uow.session, env, now)
        uow.commit()


# --- the §25 clock ----------------------------------------------------------------------------

def check_deadlines(db: Database, now: dt.datetime | None = None) -> int:
    """Warn about every open request within the warning window that has neither a final nor an
    interim notice. Returns how many warnings were raised now."""
    now = now or utcnow()
    raised = 0
    with db.unit_of_work() as uow:
        open_q = sa.select(TrackedRequest).where(TrackedRequest.final_notice_at.is_(None),
                                                 TrackedRequest.interim_notice_at.is_(None),
                                                 TrackedRequest.deadline_at <= now + warning_window())
        due = uow.session.scalars(open_q).all()
        NEAR_DEADLINE.set(len(due))
        for req in due:
            if req.warned_at is not None:
                continue
            overdue = req.deadline_at < now
            raise_alert(uow.session, alert="s25_deadline_overdue" if overdue else "s25_deadline_near",
                        case_id=req.case_id, request_id=req.report_id,
                        detail=f"§25 deadline {clock.to_jst_iso(req.deadline_at)}: no decision and no interim notice",
                        key=("deadline", req.report_id), now=now)
            req.warned_at = now
            DEADLINE_ALERTS.inc()
            raised += 1
        uow.commit()
    return raised
