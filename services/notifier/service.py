"""Notifier service layer: turn received requests and recorded decisions into notices, once.

Notice ids are derived from what caused them (the request, the decision), so redelivery,
restarts and outbox replays can never produce a second notice with a different id. Where the
law excuses a notice, an exception with its reason is recorded instead (exemptions.py).
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared import clock
from shared.db import Database, utcnow
from shared.events import DECISION_RECORDED, NOTICE_RECEIPT, REPORT_RECEIVED, Envelope, stable_id
from shared.outbox import claim_inbox
from services.notifier import config, domain, exemptions
from services.notifier.deadlines import check_deadlines  # noqa: F401  (the worker's clock job)
from services.notifier.delivery import on_receipt, republish_due  # noqa: F401
from services.notifier.issuing import issue, raise_alert, record_exception  # noqa: F401
from services.notifier.models import Inbox, Notice, NoticeException, TrackedRequest
from services.notifier.stats import notice_stats

log = logging.getLogger(__name__)

# --- the requests whose §25 clock runs ------------------------------------------------------

def track_request(session: Session, *, report_id: str, case_id: str, requester: dict, received_at: str,
                  deadline_at: str | None, request_type: str | None, is_repeat: bool,
                  post_id: str | None, right_infringed: str | None = None) -> TrackedRequest:
    """The request's clock, created by whichever of its events arrives first (the request or
    a decision listing it: they travel on different topics)."""
    pending = session.info.setdefault("modq_pending_requests", {})
    tracked = pending.get(report_id) or session.get(TrackedRequest, report_id)
    if tracked is not None:
        tracked.post_id = tracked.post_id or post_id
        tracked.right_infringed = tracked.right_infringed or right_infringed
        return tracked
    received = clock.parse_instant(received_at)
    tracked = TrackedRequest(report_id=report_id, case_id=case_id, requester=requester,
                             requester_id=requester.get("id"), post_id=post_id, right_infringed=right_infringed,
                             request_type=request_type or "ordinary", is_repeat=bool(is_repeat),
                             received_at=received, deadline_at=s25_deadline(report_id, received, deadline_at))
    session.add(tracked)
    pending[report_id] = tracked  # flushed with the batch; look-ups above check here first
    return tracked


def s25_deadline(report_id: str, received: dt.datetime, stated: str | None) -> dt.datetime:
    """The notifier computes the deadline itself; if the event states an earlier one, that wins
    (the stricter clock), and a disagreement is logged."""
    computed = clock.s25_deadline(received)
    if not stated:
        return computed
    given = clock.parse_instant(stated)
    if given != computed:
        log.warning("request %s: stated deadline %s differs from computed %s; using the earlier",
                    report_id, given.isoformat(), computed.isoformat())
    return min(given, computed)


# --- handlers -------------------------------------------------------------------------------

def on_report_received(session: Session, env: Envelope, now: dt.datetime) -> None:
    data = env.data
    if data["treated_as"] != "deletion_request":
        return  # reports (通報) have no §25 duty
    tracked = track_request(session, report_id=data["report_id"], case_id=data["case_id"],
                            requester=data["reporter"], received_at=data["received_at"],
                            deadline_at=data.get("deadline_at"), request_type=data.get("request_type"),
                            is_repeat=data.get("is_repeat", False), post_id=data["post"]["id"],
                            right_infringed=data.get("right_infringed"))
    # A repeat gets no N1/N2 of its own (§25(1) proviso): its ACK says so and names the earlier request.
    earlier = exemptions.earlier_request(session, tracked) if tracked.is_repeat else None
    issue(session, notice_type="ACK", notice_id=stable_id("notice", "ACK", data["report_id"]), case_id=data["case_id"],
          recipient=data["reporter"], request_id=data["report_id"], now=now, fields={
              "request_id": data["report_id"], "received_at": data["received_at"],
              "received_at_text": clock.jst_text(tracked.received_at), "deadline_at": tracked.deadline_at.isoformat(),
              "deadline_text": clock.jst_text(tracked.deadline_at), "is_repeat": tracked.is_repeat,
              "earlier_request_id": earlier.report_id if earlier else None})
    if tracked.is_repeat:
        exemptions.apply_repeat_proviso(session, tracked, now)


def on_decision_recorded(session: Session, env: Envelope, now: dt.datetime) -> None:
    d = env.data
    if d["action"] == "reversal":
        _reversal_notice(session, d, now)
        return
    tracked = [_track_from_decision(session, d, ref) for ref in domain.deletion_requests_in_order(d)]
    if d["final"]:
        for request in tracked:
            _final_notice(session, d, request, now)
        if d["measure"] in domain.MEASURES_TAKEN:
            _poster_notice(session, d, now)
        return
    for request in tracked:
        _interim_notice(session, d, request, now)
    if d["action"] == "poster_inquiry":
        _inquiry(session, d, now)


def _reversal_notice(session: Session, d: dict, now: dt.datetime) -> None:
    """An appeal lifted a measure: the poster gets a new notice (the earlier N4 is never edited),
    and so does each requester whose request the measure answered (REVR): their N1 said it
    was taken."""
    decided_at_text = clock.jst_text(clock.parse_instant(d["decided_at"]))
    post = {"post_id": d["post"]["id"], "post_url": d["post"]["url"], "post_excerpt": domain.excerpt(d["post"].get("text")),
            "reverses": d.get("reverses"), "decided_at": d["decided_at"], "decided_at_text": decided_at_text}
    issue(session, notice_type="REV", notice_id=stable_id("notice", "REV", d["decision_id"]), case_id=d["case_id"],
          recipient=d["poster"], decision_id=d["decision_id"], now=now,
          # the reviewer's own reason is the record's, not the poster's
          fields={**post, "reason": domain.REVERSAL_TEXT})
    for ref in domain.deletion_requests_in_order(d):
        if ref.get("is_repeat"):
            continue
        issue(session, notice_type="REVR", notice_id=stable_id("notice", "REVR", d["decision_id"], ref["report_id"]),
              case_id=d["case_id"], recipient=ref["requester"], request_id=ref["report_id"],
              decision_id=d["decision_id"], now=now, fields={
                  **post, "request_id": ref["report_id"],
                  "reason": d.get("requester_reason") or "発信者からの異議申立てを受けて再審査した結果、措置を取り消しました。"})


def _track_from_decision(session: Session, d: dict, ref: dict) -> TrackedRequest:
    return track_request(session, report_id=ref["report_id"], case_id=d["case_id"], requester=ref["requester"],
                         received_at=ref["received_at"], deadline_at=ref.get("deadline_at"),
                         request_type=ref.get("request_type"), is_repeat=ref.get("is_repeat", False),
                         post_id=d["post"]["id"], right_infringed=ref.get("right_infringed"))


def _final_notice(session: Session, d: dict, request: TrackedRequest, now: dt.datetime) -> None:
    if request.is_repeat:
        exemptions.apply_repeat_proviso(session, request, now)
        return
    if request.final_notice_at is not None or request.exception_id:
        return
    decided_at = clock.parse_instant(d["decided_at"])
    notice = issue(session, notice_type="N2" if d["measure"] == "no_action" else "N1",
                   notice_id=exemptions.final_notice_id(request.report_id), case_id=d["case_id"],
                   recipient=request.requester, request_id=request.report_id, decision_id=d["decision_id"], now=now,
                   fields={"request_id": request.report_id, "measure": d["measure"], "decided_at": d["decided_at"],
                           "decided_at_text": clock.jst_text(decided_at),
                           # the reason written for the requester, never the moderator's own note
                           "reason": d.get("requester_reason") if d["measure"] == "no_action" else None,
                           "post_url": d["post"]["url"], "scope_text": domain.scope_text(d.get("scope"))})
    if notice.status != "held":  # a held notice has not gone out: the clock keeps running
        request.final_notice_at = now


def _interim_notice(session: Session, d: dict, request: TrackedRequest, now: dt.datetime) -> None:
    """N3 (§25(2)): why the decision takes longer, once per request, before its final notice."""
    if request.is_repeat or request.exception_id or request.final_notice_at or request.interim_notice_at:
        return
    item = d.get("delay_item")
    if now > request.deadline_at:
        # §25(2) asks for the interim notice within the 7 days: sent anyway, but a person is told.
        raise_alert(session, alert="s25_interim_after_deadline", case_id=d["case_id"], request_id=request.report_id,
                    detail=f"N3 sent after the §25 deadline {clock.to_jst_iso(request.deadline_at)}",
                    key=("interim-late", request.report_id), now=now)
    notice = issue(session, notice_type="N3", notice_id=stable_id("notice", "N3", request.report_id),
                   case_id=d["case_id"], recipient=request.requester, request_id=request.report_id,
                   decision_id=d["decision_id"], now=now,
                   fields={"request_id": request.report_id, "delay_item": item, "decided_at": d["decided_at"],
                           "deadline_at": request.deadline_at.isoformat(),
                           "delay_reason": d.get("requester_reason") if item == "iii" else None})
    if notice.status != "held":
        request.interim_notice_at = now


def _inquiry(session: Session, d: dict, now: dt.datetime) -> None:
    """INQ (§3(2)(ii)): the post, the right claimed, the reason, the reply period and how to
    answer. The right and the reason are the requester's own words; a case with only reports
    has no right claimed and no 申出, and the inquiry says so. The reply deadline itself is
    fixed when the SNS reports delivery (delivery.py); the notice states the date it falls on
    if delivered the day it is sent."""
    refs = domain.deletion_requests_in_order(d)
    first = next((r for r in refs if not r.get("is_repeat")), refs[0] if refs else {})
    request_type = domain.inquiry_request_type(refs)
    days = d.get("inquiry_days") or clock.inquiry_days(request_type)
    # The decision service names the INQ (it tracks the inquiry under that id); events recorded
    # before it carried the id get the id it derived then.
    notice_id = d.get("inquiry_notice_id") or stable_id("notice", "INQ", d["decision_id"])
    issue(session, notice_type="INQ", notice_id=notice_id, case_id=d["case_id"],
          recipient=d["poster"], decision_id=d["decision_id"], now=now, fields={
              "post_id": d["post"]["id"], "post_url": d["post"]["url"], "post_text": d["post"]["text"],
              "basis": "request" if refs else "report",
              "right_infringed": first.get("right_infringed"),
              "reason": first.get("reason") if refs else (d.get("facts") or d.get("requester_reason")),
              "reply_days": days, "reply_by_text": clock.jst_text(clock.period_end(now, days)),
              "reply_channel": config.inquiry_reply_channel(), "request_type": request_type})


def _poster_notice(session: Session, d: dict, now: dt.datetime) -> None:
    if exemptions.poster_notice_exception(session, d, now) is not None:
        return
    notice_id = stable_id("notice", "N4", d["decision_id"])
    suspension_until = clock.parse_instant(d["suspension_until"]) if d.get("suspension_until") else None
    issue(session, notice_type="N4", notice_id=notice_id, case_id=d["case_id"], recipient=d["poster"],
          decision_id=d["decision_id"], now=now, fields={
              "measure": d["measure"], "decided_at": d["decided_at"], "post_id": d["post"]["id"],
              "post_url": d["post"]["url"], "post_text": d["post"].get("text"),
              "clause": d.get("clause"), "exception_code": d.get("exception_code"),
              "exception_text": domain.EXCEPTION_TEXT.get(d.get("exception_code") or "", ""),
              "facts": domain.poster_facts(d), "scope_text": domain.scope_text(d.get("scope")),
              "suspension_until_text": clock.jst_text(suspension_until) if suspension_until else None,
              "notice_ref": notice_id[:8], "appeal_url": config.appeal_url(),
              "appeal_until_text": clock.jst_text(clock.period_end(now, config.appeal_days()))})


HANDLERS = {
    REPORT_RECEIVED.name: ("ack-requests", on_report_received),
    DECISION_RECORDED.name: ("decision-notices", on_decision_recorded),
    NOTICE_RECEIPT.name: ("receipts", on_receipt),
}
EVENT_TYPES = tuple(HANDLERS)


def handle_events(db: Database, envelopes: list[Envelope]) -> None:
    """One transaction per batch: the inbox, the notices and their outbox rows commit together."""
    # Report events come before decisions in a batch so a request is tracked before its notice.
    order = {REPORT_RECEIVED.name: 0, DECISION_RECORDED.name: 1, NOTICE_RECEIPT.name: 2}
    with db.unit_of_work() as uow:
        now = utcnow()
        # The handlers flush what later look-ups need themselves; flushing before every
        # look-up as well would cost more than the handling.
        with uow.session.no_autoflush:
            for env in sorted(envelopes, key=lambda e: order.get(e.type, 9)):
                consumer, handler = HANDLERS[env.type]
                if claim_inbox(uow.session, Inbox, consumer, env):
                    handler(uow.session, env, now)
        uow.commit()


# --- queries for the API ----------------------------------------------------------------------

def find_notices(db: Database, *, limit: int, case_id: str | None = None, request_id: str | None = None,
                 decision_id: str | None = None, notice_type: str | None = None,
                 status: str | None = None) -> dict:
    """Notices (newest first) and the exceptions recorded instead of a notice, as the API shows them."""
    notices = sa.select(Notice).order_by(Notice.issued_at.desc()).limit(limit)
    exceptions = sa.select(NoticeException).order_by(NoticeException.recorded_at.desc()).limit(limit)
    for column, value in (("case_id", case_id), ("request_id", request_id), ("decision_id", decision_id)):
        if value:
            notices = notices.where(getattr(Notice, column) == value)
            exceptions = exceptions.where(getattr(NoticeException, column) == value)
    if notice_type:
        notices = notices.where(Notice.notice_type == notice_type)
    if status:
        notices = notices.where(Notice.status == status)
    with db.sessions() as session:
        return {"notices": [_notice_out(n) for n in session.scalars(notices)],
                "exceptions": [_exception_out(e) for e in session.scalars(exceptions)]}


def notice_statistics(db: Database, start: dt.datetime | None, end: dt.datetime | None) -> dict:
    """Counts for the §28 report over [start, end)."""
    with db.sessions() as session:
        return notice_stats(session, start, end)


def _iso(value):
    return value.isoformat() if value is not None else None


def _notice_out(n: Notice) -> dict:
    return {"notice_id": n.notice_id, "notice_type": n.notice_type, "legal_basis": n.legal_basis,
            "case_id": n.case_id, "request_id": n.request_id, "decision_id": n.decision_id,
            "recipient_id": n.recipient_id, "status": n.status, "held_reason": n.held_reason,
            "issued_at": n.issued_at.isoformat(), "delivered_at": _iso(n.delivered_at), "attempts": n.attempts,
            "failures": n.failures, "next_attempt_at": _iso(n.next_attempt_at),
            "reply_deadline_at": _iso(n.reply_deadline_at), "measure": n.measure, "clause_id": n.clause_id,
            "delay_item": n.delay_item, "text_ja": n.body.get("text_ja", "")}


def _exception_out(e: NoticeException) -> dict:
    return {"id": e.id, "notice_type": e.notice_type, "reason_code": e.reason_code, "legal_basis": e.legal_basis,
            "detail": e.detail, "case_id": e.case_id, "request_id": e.request_id, "decision_id": e.decision_id,
            "related_notice_id": e.related_notice_id, "fallback": e.fallback, "recorded_at": e.recorded_at.isoformat()}
