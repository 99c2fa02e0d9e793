"""The queue and claims: cases in the order moderators take them, the queue's counters, and
the claim (a lease) that makes one moderator the owner of a case while deciding."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared import clock
from shared.db import Database, utcnow
from services.decision.audit.chain import append_audit
from services.decision.cases.models import Case
from services.decision.errors import DecisionRefused
from services.decision.users.models import User

CLAIM_LEASE = dt.timedelta(minutes=15)


QUEUE_VIEWS = ("specialist", "ready")


def queue(session: Session, *, status: str = "open", kind: str | None = None, category: str | None = None,
          near_deadline: bool = False, claimed_by: int | None = None, view: str | None = None,
          limit: int = 50, offset: int = 0, now: dt.datetime | None = None, where: tuple = ()) -> list[Case]:
    """Cases in queue order. ``view``: "specialist" (referred to a 専門員, §24/§25(2)(ii)) or
    "ready" (the poster's reply window ended without objection, §3(2)(ii)); ``where``: further
    conditions (the web view's search and its waiting-for-the-poster filter, cases/queue_view.py)."""
    now = now or utcnow()
    query = sa.select(Case).where(Case.status == status, *where)
    if kind == "deletion_request":
        query = query.where(Case.request_count > 0)
    elif kind == "report":
        query = query.where(Case.request_count == 0)
    if category:
        query = query.where(Case.top_category == category)
    if near_deadline:
        query = query.where(Case.next_deadline_at.is_not(None), Case.next_deadline_at <= now + clock.warning_window())
    if claimed_by is not None:
        query = query.where(Case.claimed_by == claimed_by)
    if view == "specialist":
        query = query.where(Case.stage == "refer_specialist")
    elif view == "ready":
        query = query.where(Case.ready_to_decide_at.is_not(None), Case.ready_to_decide_at <= now)
    query = query.order_by(Case.priority.desc(), Case.created_at.asc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def is_ready_to_decide(case: Case, now: dt.datetime) -> bool:
    return case.status == "open" and case.ready_to_decide_at is not None and case.ready_to_decide_at <= now


def queue_counts(session: Session, now: dt.datetime | None = None) -> dict:
    """All the queue's counters in one pass over the open cases (one query, not six)."""
    row = session.execute(queue_counts_query(now or utcnow())).one()
    keys = ("open", "requests", "near_deadline", "blocked_notices", "specialist", "ready")
    return {key: value or 0 for key, value in zip(keys, row)}


COUNTS_TTL = dt.timedelta(seconds=5)
_counts_cache: dict[str, tuple[dt.datetime, dict]] = {}


def cached_queue_counts(session: Session, now: dt.datetime | None = None) -> dict:
    """The counters for the queue's header, at most 5 s old: counting every open case is the
    one part of a queue request that grows with the backlog, and a header figure a few seconds
    old is fine (the rows themselves are always read fresh)."""
    now = now or utcnow()
    key = str(session.get_bind().url)
    hit = _counts_cache.get(key)
    if hit is not None and now - hit[0] < COUNTS_TTL:
        return hit[1]
    counts = queue_counts(session, now)
    _counts_cache[key] = (now, counts)
    return counts


def forget_cached_counts() -> None:
    _counts_cache.clear()


def queue_counts_query(now: dt.datetime) -> sa.Select:
    near = sa.and_(Case.next_deadline_at.is_not(None), Case.next_deadline_at <= now + clock.warning_window())
    ready = sa.and_(Case.ready_to_decide_at.is_not(None), Case.ready_to_decide_at <= now)
    return sa.select(
        sa.func.count(),
        sa.func.count().filter(Case.request_count > 0),
        sa.func.count().filter(near),
        sa.func.count().filter(Case.notice_blocked.is_(True)),
        sa.func.count().filter(Case.stage == "refer_specialist"),
        sa.func.count().filter(ready),
    ).select_from(Case).where(Case.status == "open")


def claim_case(db: Database, case_id: str, user: User, now: dt.datetime | None = None) -> Case:
    """Claim with a lease. One atomic UPDATE, so two moderators never hold the same case."""
    now = now or utcnow()
    with db.unit_of_work() as uow:
        result = uow.session.execute(
            sa.update(Case).where(
                Case.id == case_id, Case.status == "open",
                sa.or_(Case.claimed_by.is_(None), Case.claim_expires_at < now, Case.claimed_by == user.id))
            .values(claimed_by=user.id, claim_expires_at=now + CLAIM_LEASE)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            case = uow.session.get(Case, case_id)
            if case is None:
                raise DecisionRefused("case not found", status=404)
            if case.status != "open":
                raise DecisionRefused("この案件は決定済みです（already decided）", status=409)
            raise DecisionRefused("この案件は他のモデレーターが担当中です（claimed by someone else）", status=409)
        append_audit(uow.session, case_id=case_id, event_type="case.claimed", actor=user.pseudonym,
                     payload={"lease_until": (now + CLAIM_LEASE).isoformat()}, at=now)
        uow.commit()
        case = uow.session.get(Case, case_id)
        uow.session.refresh(case)
        uow.session.expunge(case)  # loaded and detached: leaving the unit of work must not expire it
        return case


def release_case(db: Database, case_id: str, user: User) -> None:
    with db.unit_of_work() as uow:
        uow.session.execute(sa.update(Case).where(Case.id == case_id, Case.claimed_by == user.id)
                            .values(claimed_by=None, claim_expires_at=None)
                            .execution_options(synchronize_session=False))
        append_audit(uow.session, case_id=case_id, event_type="case.released", actor=user.pseudonym, payload={})
        uow.commit()
