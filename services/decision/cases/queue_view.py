"""What the queue page shows beside each case: why it has its priority, how long until its
第25条 deadline and how old it is, who holds it; and the page's own filters (search, cases
waiting for the poster's reply)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from shared import clock

from services.decision.cases import domain
from services.decision.cases.models import Case, CaseReport
from services.decision.casework import service as casework
from services.decision.inquiries.models import PosterInquiry
from services.decision.users.models import User

PART_LABELS = {
    "score": _l("分類器スコア"),
    "severity": _l("分類の重さ"),
    "reporters": _l("通報者数"),
    "request": _l("削除申出あり"),
    "deadline": _l("第25条の期限"),
    "threat": _l("暴力予告の可能性が高い"),
    "at_risk": _l("期限切れの危険（最優先）"),
}
SEARCH_MAX = 200


def priority_breakdown(case: Case, now: dt.datetime) -> list[tuple[str, float]]:
    """The terms of the case's priority that count, largest first (domain.priority_parts)."""
    parts = domain.priority_parts(score=case.score, categories=case.categories, reporter_count=case.reporter_count,
                                  has_request=case.next_deadline_at is not None,
                                  next_deadline_at=case.next_deadline_at, now=now, warning=clock.warning_window())
    return [(str(PART_LABELS[k]), v) for k, v in sorted(parts.items(), key=lambda kv: -kv[1]) if v > 0]


def span_text(delta: dt.timedelta) -> str:
    """A duration the way a moderator reads it: 2日3時間, 5時間12分, 40分."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return str(_l("%(d)s日%(h)s時間", d=days, h=hours))
    if hours:
        return str(_l("%(h)s時間%(m)s分", h=hours, m=mins))
    return str(_l("%(m)s分", m=mins))


def countdown(deadline: dt.datetime | None, now: dt.datetime) -> str:
    if deadline is None:
        return "—"
    left = deadline - now
    if left.total_seconds() < 0:
        return str(_l("%(span)s超過", span=span_text(left)))
    return str(_l("あと%(span)s", span=span_text(left)))


def age(created_at: dt.datetime, now: dt.datetime) -> str:
    return span_text(now - created_at)


def waiting_for_poster(now: dt.datetime):
    """Cases whose poster was asked (§3(2)(ii)) and whose reply window is still running with no
    objection: nothing to decide yet, so they leave the default list and ``n``."""
    objected = sa.exists().where(PosterInquiry.case_id == Case.id, PosterInquiry.outcome == "objected")
    return sa.and_(sa.func.coalesce(Case.stage, "") == "poster_inquiry", ~objected,
                   sa.or_(Case.ready_to_decide_at.is_(None), Case.ready_to_decide_at > now))


def search_clause(text: str):
    """Author id, post id or URL, a case or request (受付番号) id or its first characters, or
    words of the post's text."""
    text = (text or "").strip()[:SEARCH_MAX]
    if not text:
        return None
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    prefix, anywhere = escaped + "%", "%" + escaped + "%"
    report_match = sa.exists().where(CaseReport.case_id == Case.id,
                                     CaseReport.report_id.like(prefix, escape="\\"))
    return sa.or_(Case.author_id == text, Case.post_id == text, Case.id.like(prefix, escape="\\"), report_match,
                  Case.post["url"].as_string() == text,
                  Case.post["text"].as_string().like(anywhere, escape="\\"))


def queue_conditions(args, now: dt.datetime, viewer_id: int | None = None) -> tuple:
    """The web view's own conditions on top of service.queue's filters."""
    conditions = []
    found = search_clause(args.get("q"))
    if found is not None:
        conditions.append(found)
    if args.get("assigned") == "me" and viewer_id is not None:
        conditions.append(casework.assigned_to(viewer_id))
    waiting = waiting_for_poster(now)
    conditions.append(waiting if args.get("waiting") == "1" else ~waiting)
    return tuple(conditions)


def holders(session: Session, cases, assigned: dict[str, int] | None = None) -> dict[int, str]:
    """Who holds or was given each case, by the name the team knows them by (their sign-in name)."""
    ids = {c.claimed_by for c in cases if c.claimed_by} | set((assigned or {}).values())
    if not ids:
        return {}
    return {u.id: display_name(u) for u in session.scalars(sa.select(User).where(User.id.in_(ids)))}


def display_name(user: User) -> str:
    return user.email.split("@", 1)[0]


def claim_live(case: Case, now: dt.datetime) -> bool:
    return bool(case.claimed_by and case.claim_expires_at and case.claim_expires_at > now)


URGENT_LIMIT = 20


def urgent_since(session: Session, since: dt.datetime, now: dt.datetime) -> list[Case]:
    """Open cases that arrived or changed after ``since`` and need someone now: a 第25条 deadline
    at risk or a credible threat of violence (the terms of domain.priority_parts that say so)."""
    at_risk = Case.next_deadline_at <= now + clock.warning_window()  # domain.is_near_deadline, in SQL
    candidates = session.scalars(
        sa.select(Case).where(Case.status == "open", Case.updated_at > since, ~waiting_for_poster(now),
                              sa.or_(at_risk, Case.top_category == "threat"))
        .order_by(Case.priority.desc()).limit(URGENT_LIMIT * 5)).all()
    urgent = []
    for case in candidates:
        parts = domain.priority_parts(score=case.score, categories=case.categories,
                                      reporter_count=case.reporter_count, has_request=case.next_deadline_at is not None,
                                      next_deadline_at=case.next_deadline_at, now=now, warning=clock.warning_window())
        if parts["at_risk"] or parts["threat"]:
            urgent.append(case)
    return urgent[:URGENT_LIMIT]
