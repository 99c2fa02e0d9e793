"""When the law excuses a notice, and the exception recorded instead (counted for §28).

- §25(1) proviso: the same requester already filed the same request (同一の内容: the same
  post and the same right; intake sets ``is_repeat``): no final notice for the repeat; linked
  to the earlier request's final notice. Its ACK says so instead of promising one.
- §27(i): a measure on the operator's own post (``exception_code == "own_post"``).
- §27(ii): the poster was already told about similar content (同様の情報) for the same
  reason. Rule: an N4 to the same poster, for the same kind of measure under the same
  criteria clause, issued (and not known undeliverable) within MODQ_S27_SIMILAR_DAYS days,
  about the same post or a text that is the same or nearly so (MODQ_S27_SIMILARITY). A
  placeholder poster id (MODQ_UNKNOWN_POSTER_IDS, "unknown") never counts as one person.
- §27(iii) and §25(1) 正当な理由: the recipient cannot be reached (see delivery.py), or the
  decision says so (``exception_code`` ``poster_unreachable`` / ``poster_account_deleted``).
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.events import stable_id
from services.notifier import config, domain
from services.notifier.issuing import pending_notices, record_exception
from services.notifier.models import Notice, NoticeException, TrackedRequest

REPEAT_REQUEST = "repeat_request"
OWN_POST = "own_post"
ALREADY_NOTIFIED_SIMILAR = "already_notified_similar"
RECIPIENT_UNREACHABLE = "recipient_unreachable"

LEGAL_BASIS = {
    REPEAT_REQUEST: "第25条第1項ただし書",
    OWN_POST: "第27条ただし書第1号",
    ALREADY_NOTIFIED_SIMILAR: "第27条ただし書第2号",
    "poster_unreachable": "第27条ただし書第3号",
    "poster_account_deleted": "第27条ただし書第3号",
}

# Decision exception codes that excuse the §27 notice itself. Other codes (legal_duty,
# urgent_unforeseen) are §26 exceptions: the N4 is still sent and names that basis.
S27_EXEMPT_DECISION_CODES = {
    OWN_POST: "事業者自らが発信した情報に対する措置のため通知不要（第27条ただし書第1号）",
    "poster_unreachable": "発信者に連絡する手段がないため（第27条ただし書第3号、正当な理由）",
    "poster_account_deleted": "発信者のアカウントが削除済みのため（第27条ただし書第3号、正当な理由）",
}

FINAL_NOTICE = "N1/N2"  # the exception stands for whichever final notice would have been due


def final_notice_id(report_id: str) -> str:
    return stable_id("notice", "final", report_id)


# --- §25(1) proviso ----------------------------------------------------------------------

def apply_repeat_proviso(session: Session, tracked: TrackedRequest, now: dt.datetime) -> NoticeException | None:
    """A repeat request needs no final notice: record why, linked to the earlier request's."""
    if tracked.exception_id or tracked.final_notice_at:
        return None
    earlier = earlier_request(session, tracked)
    related = final_notice_id(earlier.report_id) if earlier else None
    detail = (f"同一の申出者による同一の申出の繰り返し（先行する申出 {earlier.report_id}）" if earlier
              else "同一の申出者による同一の申出の繰り返し（先行する申出は本システムの記録外）")
    exception = record_exception(
        session, notice_type=FINAL_NOTICE, reason_code=REPEAT_REQUEST, case_id=tracked.case_id,
        request_id=tracked.report_id, related_notice_id=related, legal_basis=LEGAL_BASIS[REPEAT_REQUEST],
        detail=detail, now=now)
    tracked.exception_id = exception.id
    return exception


def earlier_request(session: Session, tracked: TrackedRequest) -> TrackedRequest | None:
    """The first non-repeat request by the same requester about the same post for the same
    right (同一の内容; a request that does not say its right matches any)."""
    if not tracked.requester_id or not tracked.post_id:
        return None
    session.flush()  # requests tracked earlier in this batch must be visible to the query
    candidates = session.scalars(
        sa.select(TrackedRequest)
        .where(TrackedRequest.requester_id == tracked.requester_id, TrackedRequest.post_id == tracked.post_id,
               TrackedRequest.report_id != tracked.report_id, TrackedRequest.is_repeat.is_(False),
               TrackedRequest.received_at <= tracked.received_at)
        .order_by(TrackedRequest.received_at))
    key = domain.same_request_key(tracked.right_infringed)
    return next((c for c in candidates if not key or not c.right_infringed
                 or domain.same_request_key(c.right_infringed) == key), None)


# --- §27 exceptions -------------------------------------------------------------------------

def poster_notice_exception(session: Session, decision: dict, now: dt.datetime) -> NoticeException | None:
    """Record and return the §27 exception that applies to this measure, or None (send N4)."""
    code = decision.get("exception_code")
    if code in S27_EXEMPT_DECISION_CODES:
        return record_exception(
            session, notice_type="N4", reason_code=code, case_id=decision["case_id"],
            decision_id=decision["decision_id"], legal_basis=LEGAL_BASIS[code],
            detail=S27_EXEMPT_DECISION_CODES[code], now=now)
    earlier = similar_notice_already_sent(session, decision, now)
    if earlier is not None:
        return record_exception(
            session, notice_type="N4", reason_code=ALREADY_NOTIFIED_SIMILAR, case_id=decision["case_id"],
            decision_id=decision["decision_id"], related_notice_id=earlier.notice_id,
            legal_basis=LEGAL_BASIS[ALREADY_NOTIFIED_SIMILAR], now=now,
            detail=f"同一の発信者に同種の情報について同一の理由（基準 {earlier.clause_id}）で通知済み"
                   f"（{earlier.issued_at.isoformat(timespec='seconds')}）")
    return None


def similar_notice_already_sent(session: Session, decision: dict, now: dt.datetime) -> Notice | None:
    """An earlier N4 to the same poster, for the same kind of measure under the same clause,
    about the same or near-identical content (同様の情報). A placeholder poster id (a form
    case whose author is not known yet) is never one person."""
    days = config.similar_notice_days()
    clause_id = (decision.get("clause") or {}).get("id")
    poster_id = decision["poster"]["id"]
    if days <= 0 or not clause_id or poster_id in config.unknown_poster_ids():
        return None
    since = now - dt.timedelta(days=days)
    # Notices issued earlier in this batch are not flushed yet: they count as "already told" too.
    in_this_batch = [n for n in pending_notices(session).values() if n.notice_type == "N4"
                     and n.recipient_id == poster_id and n.clause_id == clause_id
                     and n.measure == decision["measure"] and n.status in ("sent", "delivered")
                     and n.decision_id != decision["decision_id"] and n.issued_at >= since]
    stored = session.scalars(
        sa.select(Notice)
        .where(Notice.notice_type == "N4", Notice.recipient_id == poster_id,
               Notice.clause_id == clause_id, Notice.measure == decision["measure"],
               Notice.status.in_(("sent", "delivered")), Notice.issued_at >= since,
               Notice.decision_id != decision["decision_id"])
        .order_by(Notice.issued_at.desc()).limit(50))
    post = decision.get("post") or {}
    return next((n for n in [*in_this_batch, *stored] if domain.same_content(n.body.get("details") or {}, post)), None)
