"""Appeals against measures, and the reversals they lead to.

A poster contests a measure (through the API or the ``modq.appeals`` topic); a moderator other
than the one who decided reviews it. Upholding changes nothing but the appeal. Reversing records
a new decision (action ``reversal``, ``reverses`` = the original) through the function that owns
every decision's side effects (decisions/service.py, ``take_effect``), so the original decision and the notices already sent stay
exactly as they were (law.md, edge case 7).
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared import clock
from shared.db import Database, utcnow
from shared.events import APPEAL_SUBMITTED, Envelope
from shared.outbox import claim_inbox
from services.decision.audit.chain import append_audit
from services.decision.audit.models import APPEAL_OUTCOMES, Appeal
from services.decision.cases.models import Case
from services.decision.decisions.domain import RESTRICTIVE_MEASURES
from services.decision.decisions.models import Decision
from services.decision.decisions.service import record_reversal
from services.decision.errors import DecisionRefused, get_or_refuse
from services.decision.models import Inbox
from services.decision.users.models import User
from services.decision.users.roles import CAN_DECIDE, may

log = logging.getLogger(__name__)


# --- submitting -----------------------------------------------------------------------------

def submit_appeal(db: Database, *, decision_id: str, appellant_id: str, reason: str, channel: str = "api",
                  appeal_id: str | None = None, now: dt.datetime | None = None) -> Appeal:
    with db.unit_of_work() as uow:
        appeal = file_appeal(uow.session, decision_id=decision_id, appellant_id=appellant_id, reason=reason,
                             channel=channel, appeal_id=appeal_id or str(uuid.uuid4()), now=now or utcnow())
        uow.commit()
        return appeal


def file_appeal(session: Session, *, decision_id: str, appellant_id: str, reason: str, channel: str,
                appeal_id: str, now: dt.datetime) -> Appeal:
    """Store one appeal. Idempotent on ``appeal_id`` (the SNS may send it twice)."""
    existing = session.get(Appeal, appeal_id)
    if existing is not None:
        return existing
    decision = _appealable(session, decision_id, appellant_id)
    appeal = Appeal(id=appeal_id, decision_id=decision.id, case_id=decision.case_id, appellant_id=appellant_id,
                    reason=reason.strip(), channel=channel, status="open", submitted_at=now)
    session.add(appeal)
    session.flush()
    # The audit entry names no one: the appellant is the poster, whose id stays in the appeals table.
    append_audit(session, case_id=decision.case_id, event_type="appeal.submitted", actor=f"system:{channel}",
                         payload={"appeal_id": appeal.id, "decision_id": decision.id}, at=now)
    return appeal


def _appealable(session: Session, decision_id: str, appellant_id: str) -> Decision:
    decision = get_or_refuse(session, Decision, decision_id, "決定が見つかりません（decision not found）", "decision_id")
    if decision.measure not in RESTRICTIVE_MEASURES:
        raise DecisionRefused("異議を申し立てられるのは措置（削除・非表示・アカウント停止）だけです"
                              "（only measures can be appealed）", "decision_id", status=422)
    case = session.get(Case, decision.case_id)
    if case.author_id != appellant_id:
        raise DecisionRefused("異議を申し立てられるのは投稿者本人だけです（only the poster may appeal）",
                              "appellant_id", status=403)
    if session.scalar(sa.select(Decision.id).where(Decision.reverses == decision.id)) is not None:
        raise DecisionRefused("この措置はすでに取り消されています（already reversed）", "decision_id", status=409)
    if session.scalar(sa.select(Appeal.id).where(Appeal.decision_id == decision.id, Appeal.status == "open")):
        raise DecisionRefused("この措置への異議はすでに審査中です（an appeal is already open）", "decision_id",
                              status=409)
    return decision


def handle_appeal_events(db: Database, envelopes: list[Envelope]) -> None:
    """Kafka ``modq.appeals``: store each appeal once. A refused appeal is logged in the audit
    log (not retried: the same event would be refused again)."""
    with db.unit_of_work() as uow:
        for env in envelopes:
            if env.type != APPEAL_SUBMITTED.name or not claim_inbox(uow.session, Inbox, "appeals", env):
                continue
            data = env.data
            try:
                with uow.session.begin_nested():
                    file_appeal(uow.session, decision_id=data["decision_id"], appellant_id=data["appellant_id"],
                                reason=data["reason"], channel="kafka", appeal_id=data["appeal_id"],
                                now=clock.parse_instant(data["submitted_at"]))
            except DecisionRefused as exc:
                log.warning("appeal %s refused: %s", data["appeal_id"], exc.message)
                append_audit(uow.session, case_id=None, event_type="appeal.refused", actor="system:kafka",
                                     payload={"appeal_id": data["appeal_id"], "decision_id": data["decision_id"],
                                              "reason": exc.message})
        uow.commit()


# --- reviewing ------------------------------------------------------------------------------

def review_appeal(db: Database, appeal_id: str, reviewer: User, *, outcome: str, reason: str,
                  now: dt.datetime | None = None) -> Appeal:
    now = now or utcnow()
    _check_review_input(reviewer, outcome, reason)
    with db.unit_of_work() as uow:
        session = uow.session
        appeal = get_or_refuse(session, Appeal, appeal_id, "異議申立てが見つかりません（appeal not found）")
        if appeal.status != "open":
            raise DecisionRefused("この異議申立ては審査済みです（already reviewed）", status=409)
        original = session.get(Decision, appeal.decision_id)
        if original.decided_by == reviewer.id:
            raise DecisionRefused("元の決定をしたモデレーターは審査できません。別の担当者が審査してください"
                                  "（the moderator who decided may not review the appeal）", status=403)
        reversal = record_reversal(session, original, reviewer, reason, now) if outcome == "reversed" else None
        appeal.status, appeal.review_reason, appeal.reviewed_at = outcome, reason.strip(), now
        appeal.reviewed_by, appeal.reviewed_by_role = reviewer.id, reviewer.role
        appeal.reversal_decision_id = reversal.id if reversal else None
        append_audit(session, case_id=appeal.case_id, event_type=f"appeal.{outcome}", actor=reviewer.pseudonym,
                             payload={"appeal_id": appeal.id, "decision_id": original.id, "reason": appeal.review_reason,
                                      "reversal_decision_id": appeal.reversal_decision_id}, at=now)
        uow.commit()
        return appeal


def _check_review_input(reviewer: User, outcome: str, reason: str) -> None:
    if not may(reviewer.role, CAN_DECIDE):
        raise DecisionRefused("この役割では審査できません（role may not review appeals）", status=403)
    if outcome not in APPEAL_OUTCOMES:
        raise DecisionRefused(f"outcome は {' / '.join(APPEAL_OUTCOMES)} のいずれかです", "outcome")
    if not (reason or "").strip():
        raise DecisionRefused("理由を入力してください（reason is required）", "reason")


# --- reading --------------------------------------------------------------------------------

def list_appeals(session: Session, status: str | None = None, limit: int = 100) -> list[Appeal]:
    query = sa.select(Appeal).order_by(Appeal.submitted_at)
    if status:
        query = query.where(Appeal.status == status)
    return list(session.scalars(query.limit(limit)))


def appeal_view(appeal: Appeal) -> dict:
    """An appeal for staff: the appellant's account id is not repeated (it is the poster's)."""
    return {"id": appeal.id, "decision_id": appeal.decision_id, "case_id": appeal.case_id, "status": appeal.status,
            "channel": appeal.channel, "reason": appeal.reason, "submitted_at": clock.to_jst_iso(appeal.submitted_at),
            "reviewed_at": clock.to_jst_iso(appeal.reviewed_at) if appeal.reviewed_at else None,
            "reviewed_by_role": appeal.reviewed_by_role, "review_reason": appeal.review_reason,
            "reversal_decision_id": appeal.reversal_decision_id}
