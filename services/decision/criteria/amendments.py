"""The criteria amendment owed after an urgent, unforeseen measure (§26(3)): open until a
version is published after it. Works inside the caller's transaction."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.decision.audit.chain import append_audit
from services.decision.criteria.models import CriteriaAmendmentDue


def raise_amendment_due(session: Session, *, decision_id: str, case_id: str, summary: str, actor: str,
                        now: dt.datetime) -> CriteriaAmendmentDue:
    due = CriteriaAmendmentDue(decision_id=decision_id, case_id=case_id, summary=summary, raised_at=now)
    session.add(due)
    append_audit(session, case_id=case_id, event_type="criteria.amendment_due", actor=actor, at=now,
                 payload={"decision_id": decision_id, "summary": summary})
    return due


def amendments_due(session: Session) -> list[CriteriaAmendmentDue]:
    return list(session.scalars(sa.select(CriteriaAmendmentDue).where(CriteriaAmendmentDue.resolved_at.is_(None))
                                .order_by(CriteriaAmendmentDue.raised_at)))


def resolve_amendments(session: Session, version: str, now: dt.datetime) -> int:
    """Publishing a new version answers every amendment raised before it."""
    due = [d for d in amendments_due(session) if d.raised_at <= now]
    for item in due:
        item.resolved_by_version, item.resolved_at = version, now
    return len(due)
