"""Retention of personal data in the decision service, and legal holds that override it.

A decided case keeps its requesters' names, contacts and written reasons and the posters'
reply texts for MODQ_RETENTION_REQUESTER_DAYS after the decision, and the copy of the post
(text and media; its SHA-256, id and URL stay) for MODQ_RETENTION_POST_DAYS; then they are
removed. Decisions, their reasons and the audit log stay (the operator's records). A case under
a legal hold keeps everything until the hold is released; a new report reopens a case and
restarts its clock. Each removal and each hold is an audit entry.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import Database, utcnow
from shared.settings import env_int
from services.decision.auditlog import append_audit
from services.decision.domain import DecisionRefused
from services.decision.models import Case, CaseReport, PosterReply, WebSession

BATCH = 200


def requester_period() -> dt.timedelta:
    return dt.timedelta(days=env_int("MODQ_RETENTION_REQUESTER_DAYS", 3 * 365))


def post_period() -> dt.timedelta:
    return dt.timedelta(days=env_int("MODQ_RETENTION_POST_DAYS", 3 * 365))


def set_legal_hold(db: Database, case_id: str, actor: str, reason: str | None) -> None:
    """Put a case under a legal hold (``reason`` given) or release it (``reason=None``)."""
    with db.unit_of_work() as uow:
        case = uow.session.get(Case, case_id)
        if case is None:
            raise DecisionRefused("case not found", status=404)
        case.legal_hold, case.legal_hold_reason = reason is not None, (reason or None)
        append_audit(uow.session, case_id=case_id, event_type="case.legal_hold" if reason else "case.legal_hold_released",
                     actor=actor, payload={"reason": reason})
        uow.commit()


def _due(session: Session, removed_column, period: dt.timedelta, now: dt.datetime) -> list[Case]:
    return list(session.scalars(
        sa.select(Case).where(Case.status == "decided", Case.decided_at < now - period, Case.legal_hold.is_(False),
                              removed_column.is_(None)).limit(BATCH).with_for_update(skip_locked=True)))


def _remove_requester_data(session: Session, case: Case, now: dt.datetime) -> None:
    for report in session.scalars(sa.select(CaseReport).where(CaseReport.case_id == case.id)):
        report.reporter = {"id": report.reporter_id, "removed": True}
        report.reason = None
    for reply in session.scalars(sa.select(PosterReply).where(PosterReply.case_id == case.id)):
        reply.text = ""
    case.requester_data_removed_at = now
    append_audit(session, case_id=case.id, event_type="retention.requester_data_removed", actor="system:retention",
                 payload={"period_days": requester_period().days}, at=now)


def _remove_post(session: Session, case: Case, now: dt.datetime) -> None:
    case.post = {**{k: case.post.get(k) for k in ("id", "url", "author_id", "posted_at")}, "text": "",
                 "media": [], "removed": True}
    case.post_removed_at = now
    append_audit(session, case_id=case.id, event_type="retention.post_removed", actor="system:retention",
                 payload={"period_days": post_period().days, "evidence_sha256": case.evidence_sha256}, at=now)


def apply_retention(db: Database, now: dt.datetime | None = None) -> dict:
    """Remove what has outlived its period; returns how many cases had each removal."""
    now = now or utcnow()
    counts = {"requester_data": 0, "posts": 0}
    for key, column, period, remove in (("requester_data", Case.requester_data_removed_at, requester_period(),
                                         _remove_requester_data),
                                        ("posts", Case.post_removed_at, post_period(), _remove_post)):
        while True:
            with db.unit_of_work() as uow:
                due = _due(uow.session, column, period, now)
                for case in due:
                    remove(uow.session, case, now)
                uow.commit()
            counts[key] += len(due)
            if len(due) < BATCH:
                break
    with db.unit_of_work() as uow:  # sessions that ended a day ago are of no use to anyone
        uow.session.execute(sa.delete(WebSession).where(WebSession.expires_at < now - dt.timedelta(days=1)))
        uow.commit()
    return counts
