"""Retention of personal data in the decision service, and legal holds that override it.

A decided case keeps its requesters' names, contacts and written reasons and the posters'
reply texts for MODQ_RETENTION_REQUESTER_DAYS after the decision, and the preserved copy of
the post (text and media; its SHA-256, id, URL, poster id and time stay) for
MODQ_RETENTION_POST_DAYS (0 keeps it for ever); then they are removed. Decisions, their
reasons and the audit log stay (the operator's records). A case under an active legal hold
(§15 提供命令, §16 消去禁止命令, a disclosure request, litigation) keeps everything until every
hold on it is lifted; a new report reopens a case and restarts its clock. Each removal and
each hold placed or lifted is an audit entry.
"""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import Database, utcnow
from shared.settings import env_int
from services.decision.audit.chain import append_audit
from services.decision.cases.models import Case, CaseReport, LegalHold
from services.decision.errors import DecisionRefused, get_or_refuse
from services.decision.inquiries.models import PosterReply
from services.decision.users.models import WebSession

BATCH = 200

HOLD_BASES = {
    "s15_provision_order": "第15条の提供命令",
    "s16_erasure_ban": "第16条の消去禁止命令",
    "disclosure_request": "発信者情報開示請求への対応",
    "litigation": "訴訟・紛争への対応",
}


def requester_period() -> dt.timedelta:
    return dt.timedelta(days=env_int("MODQ_RETENTION_REQUESTER_DAYS", 3 * 365))


def post_period() -> dt.timedelta | None:
    """None: the preserved post is kept for ever (MODQ_RETENTION_POST_DAYS=0)."""
    days = env_int("MODQ_RETENTION_POST_DAYS", 3 * 365)
    return dt.timedelta(days=days) if days > 0 else None


# --- legal holds -----------------------------------------------------------------------------------

def place_hold(session: Session, case_id: str, *, basis: str, reference: str | None, by: str,
               now: dt.datetime | None = None) -> LegalHold:
    now = now or utcnow()
    get_or_refuse(session, Case, case_id, "案件が見つかりません（case not found）", "case_id")
    if basis not in HOLD_BASES:
        raise DecisionRefused(f"保全の根拠は {', '.join(HOLD_BASES)} のいずれかです（basis）", "basis")
    hold = LegalHold(id=str(uuid.uuid4()), case_id=case_id, basis=basis, reference=(reference or "").strip() or None,
                     placed_by=by, placed_at=now)
    session.add(hold)
    session.flush()
    append_audit(session, case_id=case_id, event_type="legal_hold.placed", actor=by, at=now,
                 payload={"hold_id": hold.id, "basis": basis, "reference": hold.reference})
    return hold


def lift_hold(session: Session, hold_id: str, *, reason: str, by: str, now: dt.datetime | None = None) -> LegalHold:
    now = now or utcnow()
    hold = get_or_refuse(session, LegalHold, hold_id, "保全が見つかりません（hold not found）", "hold_id")
    if hold.lifted_at is not None:
        raise DecisionRefused("この保全は解除済みです（already lifted）", "hold_id", status=409)
    if not (reason or "").strip():
        raise DecisionRefused("解除の理由を入力してください（reason required）", "reason")
    hold.lifted_by, hold.lifted_at, hold.lift_reason = by, now, reason.strip()
    append_audit(session, case_id=hold.case_id, event_type="legal_hold.lifted", actor=by, at=now,
                 payload={"hold_id": hold.id, "reason": hold.lift_reason})
    return hold


def active_holds(session: Session, case_id: str) -> list[LegalHold]:
    return list(session.scalars(sa.select(LegalHold).where(LegalHold.case_id == case_id,
                                                           LegalHold.lifted_at.is_(None))))


# --- the retention job -----------------------------------------------------------------------------

def _due(session: Session, removed_column, period: dt.timedelta, now: dt.datetime) -> list[Case]:
    held = sa.select(LegalHold.case_id).where(LegalHold.lifted_at.is_(None))
    return list(session.scalars(
        sa.select(Case).where(Case.status == "decided", Case.decided_at < now - period, Case.id.not_in(held),
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
    passes = [("requester_data", Case.requester_data_removed_at, requester_period(), _remove_requester_data),
              ("posts", Case.post_removed_at, post_period(), _remove_post)]
    for key, column, period, remove in passes:
        while period is not None:
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
