"""The 侵害情報調査専門員 roster (§24) that a referral needs. Each function works inside the
caller's transaction and writes its own audit entry."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import utcnow
from services.decision.audit.chain import append_audit
from services.decision.errors import DecisionRefused
from services.decision.users.models import SpecialistAppointment, User


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
    append_audit(session, case_id=None, event_type="specialist.appointed", actor=by, at=now,
                 payload={"user": user.pseudonym})
    return appointment


def end_appointment(session: Session, user: User, by: str, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    current = appointment_of(session, user.id)
    if current is None:
        raise DecisionRefused("この利用者は専門員に任命されていません（not on the roster）", "user", status=404)
    current.ended_by, current.ended_at = by, now
    append_audit(session, case_id=None, event_type="specialist.appointment_ended", actor=by, at=now,
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
