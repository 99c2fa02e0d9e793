"""Duties around the decisions themselves: the 侵害情報調査専門員 roster (§24) that a referral
needs, the criteria amendment owed after an urgent, unforeseen measure (§26(3)), and legal
holds on a case's evidence (§15 提供命令, §16 消去禁止命令) that the retention job obeys.
Each function works inside the caller's transaction and writes its own audit entry."""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import Database, utcnow
from shared.settings import env_int
from services.decision.domain import DecisionRefused
from services.decision.models import Case, CriteriaAmendmentDue, LegalHold, SpecialistAppointment, User

HOLD_BASES = {
    "s15_provision_order": "第15条の提供命令",
    "s16_erasure_ban": "第16条の消去禁止命令",
    "disclosure_request": "発信者情報開示請求への対応",
    "litigation": "訴訟・紛争への対応",
}


def _audit(session, **kwargs):
    from services.decision.service import append_audit  # the audit log's one writer

    return append_audit(session, **kwargs)


# --- the specialist roster (§24) ---------------------------------------------------------------

def appoint_specialist(session: Session, user: User, by: str, now: dt.datetime | None = None) -> SpecialistAppointment:
    now = now or utcnow()
    if user.role != "specialist":
        raise DecisionRefused("専門員に任命できるのは specialist の役割の利用者です（role must be specialist）", "user")
    current = appointment_of(session, user.id)
    if current is not None:
        return current
    appointment = SpecialistAppointment(user_id=user.id, appointed_by=by, appointed_at=now)
    session.add(appointment)
    session.flush()
    _audit(session, case_id=None, event_type="specialist.appointed", actor=by, at=now,
           payload={"user": user.pseudonym})
    return appointment


def end_appointment(session: Session, user: User, by: str, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    current = appointment_of(session, user.id)
    if current is None:
        raise DecisionRefused("この利用者は専門員に任命されていません（not on the roster）", "user", status=404)
    current.ended_by, current.ended_at = by, now
    _audit(session, case_id=None, event_type="specialist.appointment_ended", actor=by, at=now,
           payload={"user": user.pseudonym})


def appointment_of(session: Session, user_id: int) -> SpecialistAppointment | None:
    return session.scalar(sa.select(SpecialistAppointment).where(
        SpecialistAppointment.user_id == user_id, SpecialistAppointment.ended_at.is_(None)).limit(1))


def roster(session: Session) -> list[User]:
    return list(session.scalars(sa.select(User).join(SpecialistAppointment, SpecialistAppointment.user_id == User.id)
                                .where(SpecialistAppointment.ended_at.is_(None)).order_by(User.id)))


def check_referral_possible(session: Session) -> None:
    """A referral tells the requester a 専門員 investigates (N3, §25(2)(ii)): one must exist."""
    if not roster(session):
        raise DecisionRefused("侵害情報調査専門員が任命されていないため、専門員の調査に付すことはできません"
                              "（第24条。no specialist investigator is appointed）", "measure", status=409)


def check_referred_case_decider(session: Session, user: User) -> None:
    """After a referral, only a 専門員 on the roster decides."""
    if user.role != "specialist" or appointment_of(session, user.id) is None:
        raise DecisionRefused("専門員の調査に付した案件は、任命された侵害情報調査専門員が判断します"
                              "（第25条第2項第2号。referred to a specialist investigator）", status=403)


# --- §26(3): amend the criteria after an urgent, unforeseen measure -----------------------------

def raise_amendment_due(session: Session, *, decision_id: str, case_id: str, summary: str, actor: str,
                        now: dt.datetime) -> CriteriaAmendmentDue:
    due = CriteriaAmendmentDue(decision_id=decision_id, case_id=case_id, summary=summary, raised_at=now)
    session.add(due)
    _audit(session, case_id=case_id, event_type="criteria.amendment_due", actor=actor, at=now,
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


# --- legal holds and evidence retention ---------------------------------------------------------

def place_hold(session: Session, case_id: str, *, basis: str, reference: str | None, by: str,
               now: dt.datetime | None = None) -> LegalHold:
    now = now or utcnow()
    if session.get(Case, case_id) is None:
        raise DecisionRefused("案件が見つかりません（case not found）", "case_id", status=404)
    if basis not in HOLD_BASES:
        raise DecisionRefused(f"保全の根拠は {', '.join(HOLD_BASES)} のいずれかです（basis）", "basis")
    hold = LegalHold(id=str(uuid.uuid4()), case_id=case_id, basis=basis, reference=(reference or "").strip() or None,
                     placed_by=by, placed_at=now)
    session.add(hold)
    session.flush()
    _audit(session, case_id=case_id, event_type="legal_hold.placed", actor=by, at=now,
           payload={"hold_id": hold.id, "basis": basis, "reference": hold.reference})
    return hold


def lift_hold(session: Session, hold_id: str, *, reason: str, by: str, now: dt.datetime | None = None) -> LegalHold:
    now = now or utcnow()
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise DecisionRefused("保全が見つかりません（hold not found）", "hold_id", status=404)
    if hold.lifted_at is not None:
        raise DecisionRefused("この保全は解除済みです（already lifted）", "hold_id", status=409)
    if not (reason or "").strip():
        raise DecisionRefused("解除の理由を入力してください（reason required）", "reason")
    hold.lifted_by, hold.lifted_at, hold.lift_reason = by, now, reason.strip()
    _audit(session, case_id=hold.case_id, event_type="legal_hold.lifted", actor=by, at=now,
           payload={"hold_id": hold.id, "reason": hold.lift_reason})
    return hold


def active_holds(session: Session, case_id: str) -> list[LegalHold]:
    return list(session.scalars(sa.select(LegalHold).where(LegalHold.case_id == case_id,
                                                           LegalHold.lifted_at.is_(None))))


def retention_days() -> int:
    """How long a decided case keeps its preserved post (証拠保全) before retention erases the
    content (the hash, the URL and the ids stay). 0 keeps it for ever."""
    return env_int("MODQ_EVIDENCE_RETENTION_DAYS", 730)


def erase_expired_evidence(db: Database, now: dt.datetime | None = None) -> int:
    """The retention job: erase the preserved content of cases decided longer ago than the
    retention period, except cases under an active legal hold."""
    now = now or utcnow()
    days = retention_days()
    if days <= 0:
        return 0
    held = sa.select(LegalHold.case_id).where(LegalHold.lifted_at.is_(None))
    with db.unit_of_work() as uow:
        cases = uow.session.scalars(sa.select(Case).where(
            Case.status == "decided", Case.decided_at < now - dt.timedelta(days=days),
            Case.evidence_erased_at.is_(None), Case.id.not_in(held))).all()
        for case in cases:
            post = case.post or {}
            case.post = {key: post.get(key) for key in ("id", "url", "author_id", "posted_at")} | {
                "text": "", "media": [], "erased": True}
            case.evidence_erased_at = now
            _audit(uow.session, case_id=case.id, event_type="evidence.erased", actor="system:retention", at=now,
                   payload={"retention_days": days, "evidence_sha256": case.evidence_sha256})
        uow.commit()
        return len(cases)
