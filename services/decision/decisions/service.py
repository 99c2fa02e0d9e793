"""Decision service layer.

``record_decision`` is the one function that owns a decision's side effects: the decision
record, the case's state, the resolution of every report and request on the case, the audit
entries and the ``decision.recorded`` event (through the outbox) that the notifier turns into
notices. The web view and the JSON API both call it.
"""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared import clock
from shared.db import Database, utcnow
from shared.events import DECISION_RECORDED, make_event, stable_id
from shared.outbox import stage
from services.decision.audit.chain import append_audit, lock_chain
from services.decision.cases import domain as case_rules
from services.decision.cases.models import Case, CaseReport
from services.decision.cases.projection import refresh_case
from services.decision.cases.service import forget_cached_counts
from services.decision.casework.service import end_assignment
from services.decision.criteria import amendments
from services.decision.criteria.models import Clause, CriteriaVersion
from services.decision.criteria.service import clause_in_force
from services.decision.decisions import domain
from services.decision.decisions.domain import DecisionInput
from services.decision.decisions.models import Decision
from services.decision.errors import DecisionRefused, get_or_refuse
from services.decision.inquiries.models import PosterInquiry
from services.decision.inquiries.service import open_inquiry
from services.decision.models import Outbox
from services.decision.users import specialists
from services.decision.users.models import User
from services.decision.users.roles import CAN_DECIDE, CAN_OVERRIDE_CLAIM, may

SOURCE = "/modq/decision"


def _check_claim(case: Case, user: User, data: DecisionInput, now: dt.datetime) -> str | None:
    """A decision needs the decider's live claim, so two people never decide one case at once
    and each decision has one owner. A supervisor may override; the return value is whose
    claim was overridden ("none" when nobody held it), or None when no override happened."""
    held = case.claimed_by is not None and case.claim_expires_at is not None and case.claim_expires_at > now
    if held and case.claimed_by == user.id:
        return None
    if data.override_claim:
        if not may(user.role, CAN_OVERRIDE_CLAIM):
            raise DecisionRefused("担当の引き継ぎはスーパーバイザーのみ行えます（override_claim needs a supervisor）",
                                  "override_claim", status=403)
        return str(case.claimed_by) if held else "none"
    if held:
        raise DecisionRefused("この案件は他のモデレーターが担当中です（claimed by someone else）", status=409)
    raise DecisionRefused("先に案件を担当してください（claim the case first: POST /v1/cases/<id>/claim）",
                          "claim", status=409)


def record_decision(db: Database, case_id: str, user: User, data: DecisionInput,
                    now: dt.datetime | None = None) -> Decision:
    """A moderator's decision or step on a case, checked against the rules, then recorded
    with all its effects by ``take_effect``."""
    now = now or utcnow()
    domain.validate_input(data, now)
    if not may(user.role, CAN_DECIDE):
        raise DecisionRefused("この役割では決定できません（role may not decide）", status=403)
    with db.unit_of_work() as uow:
        session = uow.session
        case = _open_case(session, case_id)
        overridden = _check_claim(case, user, data, now)
        clause = _check_grounds(session, case, user, data, now)
        decision = _new_decision(session, case, user, data, clause, now)
        answered = session.scalars(sa.select(CaseReport).where(CaseReport.case_id == case.id,
                                                               CaseReport.status != "resolved")).all()
        take_effect(session, case, decision, user, answered=list(answered), now=now, overridden=overridden)
        uow.commit()
    forget_cached_counts()  # whoever decided sees the counters move at once
    return decision


def record_reversal(session: Session, original: Decision, reviewer: User, reason: str, now: dt.datetime) -> Decision:
    """A new decision that lifts ``original`` (an appeal upheld against it). The original and the
    notices already sent stay as they were; the requests it answered travel along so that their
    requesters are told the measure was lifted, and none of them is answered again."""
    case = session.get(Case, original.case_id)
    reversal = Decision(
        id=str(uuid.uuid4()), case_id=original.case_id, action="reversal", final=True, measure=None,
        reason=reason.strip(), facts=f"異議申立てにより決定 {original.id} の措置（{original.measure}）を取り消し",
        scope=original.scope or {}, decided_by=reviewer.id, decided_by_role=reviewer.role,
        specialist_reviewed=reviewer.role == "specialist", ai_assisted=False, reverses=original.id, decided_at=now)
    told = session.scalars(sa.select(CaseReport).where(CaseReport.resolved_by == original.id,
                                                       CaseReport.treated_as == "deletion_request")).all()
    take_effect(session, case, reversal, reviewer, answered=[], told=list(told), now=now)
    return reversal


def take_effect(session: Session, case: Case, decision: Decision, user: User, *, answered: list[CaseReport],
                now: dt.datetime, told: list[CaseReport] | None = None, overridden: str | None = None) -> None:
    """The one place a decision's side effects happen, for every kind of decision: the record,
    the §26(3) amendment it may owe, the reports it answers (``answered``), the case's state,
    an inquiry it opens, the ``decision.recorded`` event for the notifier (naming the requests
    in ``told``, by default those answered) and the audit entries."""
    lock_chain(session)  # before the case rows below: the projection's order
    session.add(decision)
    session.flush()
    if decision.final and decision.exception_code == "urgent_unforeseen":
        amendments.raise_amendment_due(session, decision_id=decision.id, case_id=case.id, actor=user.pseudonym,
                                       summary=decision.facts or decision.reason, now=now)
    if decision.reverses is None:
        _move_case(session, case, decision, answered, now)
    event = decision_event(session, case, decision, answered if told is None else told, user)
    stage(session, Outbox, event, DECISION_RECORDED.topic, key=case.id)
    if overridden:
        append_audit(session, case_id=case.id, event_type="case.claim_overridden", actor=user.pseudonym,
                     payload={"claimed_by": overridden}, at=now)
    append_audit(session, case_id=case.id, event_type=f"decision.{decision.action}", actor=user.pseudonym,
                 payload=_audit_payload(decision, answered), at=now)


def _move_case(session: Session, case: Case, decision: Decision, answered: list[CaseReport],
               now: dt.datetime) -> None:
    """A measure resolves every open report and closes the case; a step extends them and
    puts the case in that stage. Either way the claim ends."""
    for report in answered:
        report.status = "resolved" if decision.final else "extended"
        report.resolved_by = decision.id if decision.final else report.resolved_by
    if decision.final:
        case.status, case.stage, case.decided_at = "decided", None, now
        end_assignment(session, case.id, actor="system:decision", why="decided", now=now)
    else:
        case.stage = decision.action
    if decision.action == "poster_inquiry":
        open_inquiry(session, case, decision, answered, now)
    case.claimed_by, case.claim_expires_at = None, None
    session.flush()
    refresh_case(case, session, now)


def _audit_payload(decision: Decision, answered: list[CaseReport]) -> dict:
    if decision.reverses is not None:
        return {"decision_id": decision.id, "reverses": decision.reverses, "reason": decision.reason,
                "scope": decision.scope, "requests": []}
    until = decision.suspension_until
    return {"decision_id": decision.id, "clause": decision.clause_snapshot,
            "suspension_until": until.isoformat() if until else None,
            "suspension_permanent": decision.suspension_permanent, "exception_code": decision.exception_code,
            "reason": decision.reason, "scope": decision.scope, "requests": [r.report_id for r in answered]}


def _open_case(session: Session, case_id: str) -> Case:
    case = get_or_refuse(session, Case, case_id, "case not found")
    if case.status != "open":
        raise DecisionRefused("この案件は決定済みです（already decided）", status=409)
    return case


def _check_grounds(session: Session, case: Case, user: User, data: DecisionInput, now: dt.datetime) -> Clause | None:
    """Who may decide this case now, and on what grounds: the clause in force (§26) that it
    rests on, if any."""
    if case.stage == "refer_specialist" and data.action in domain.MEASURES:
        # The requester was told a 専門員 investigates (N3, §25(2)(ii)): one on the roster decides.
        specialists.check_referred_case_decider(session, user)
    if data.action == "refer_specialist":
        specialists.check_referral_possible(session)
    if data.expected_version is not None and data.expected_version != case.version:
        raise DecisionRefused("案件が更新されました。内容を確認してからもう一度決定してください（stale form）",
                              status=409)
    if data.action in domain.RESTRICTIVE_MEASURES:
        domain.check_scope_items(data.scope, case.post)
    domain.check_requester_reason(data, session.scalar(
        sa.select(sa.func.count()).select_from(CaseReport).where(
            CaseReport.case_id == case.id, CaseReport.treated_as == "deletion_request",
            CaseReport.status != "resolved", CaseReport.is_repeat.is_(False))))
    clause = clause_in_force(session, data.clause_id, now) if data.clause_id else None
    if clause and data.action == "suspend_account" and not clause.covers_suspension:
        raise DecisionRefused(f"条項 {clause.clause_id} はアカウント停止を定めていません", "clause_id")
    if clause:
        domain.check_clause_applies(clause.clause_id, clause.measures, clause.routes, data.action,
                                    _case_routes(session, case.id))
    return clause


def _new_decision(session: Session, case: Case, user: User, data: DecisionInput, clause: Clause | None,
                  now: dt.datetime) -> Decision:
    final = data.action in domain.MEASURES
    return Decision(
        id=str(uuid.uuid4()), case_id=case.id, action=data.action, final=final,
        measure=data.action if final else None,
        clause_version=clause.version if clause else None, clause_id=clause.clause_id if clause else None,
        clause_snapshot=_clause_snapshot(session, clause) if clause else None,
        exception_code=data.exception_code, reason=data.reason.strip(), facts=(data.facts or "").strip() or None,
        requester_reason=(data.requester_reason or "").strip() or None,
        scope=domain.normal_scope(data.scope), suspension_until=data.suspension_until,
        suspension_permanent=data.action == "suspend_account" and data.suspension_permanent,
        delay_item=domain.DELAY_ITEM_OF_STEP.get(data.action), decided_by=user.id, decided_by_role=user.role,
        specialist_reviewed=user.role == "specialist", ai_assisted=case.score is not None,
        model_version=case.model_version, score=case.score, decided_at=now)


def _case_routes(session: Session, case_id: str) -> set[str]:
    """The routes of the reports still open on a case (all of them, if every one is resolved)."""
    rows = session.execute(sa.select(CaseReport.treated_as, CaseReport.reporter_id, CaseReport.status)
                           .where(CaseReport.case_id == case_id).distinct()).all()
    open_rows = [r for r in rows if r.status != "resolved"] or rows
    return {case_rules.report_route(r.treated_as, r.reporter_id) for r in open_rows}


def _clause_snapshot(session: Session, clause: Clause) -> dict:
    version = session.get(CriteriaVersion, clause.version)
    return {"id": clause.clause_id, "version": clause.version, "title": clause.title, "text": clause.text,
            "published_at": version.published_at.isoformat() if version and version.published_at else None}


def decision_event(session: Session, case: Case, decision: Decision, reports: list[CaseReport], user: User):
    """``decision.recorded``: everything the notifier needs to tell the requesters and the poster."""
    requests = [{
        "report_id": r.report_id, "kind": r.treated_as, "requester": r.reporter,
        "received_at": r.received_at.isoformat(), "deadline_at": r.deadline_at.isoformat() if r.deadline_at else None,
        "is_repeat": r.is_repeat, "right_infringed": r.right_infringed, "reason": r.reason,
        "request_type": r.request_type,
    } for r in reports]
    return make_event(DECISION_RECORDED, source=SOURCE, subject=case.id,
                      id=stable_id("decision.recorded", decision.id), time=decision.decided_at, data={
        "decision_id": decision.id, "case_id": case.id, "action": decision.action, "final": decision.final,
        "measure": decision.measure, "clause": decision.clause_snapshot, "exception_code": decision.exception_code,
        "reason": decision.reason, "requester_reason": decision.requester_reason,
        "facts": decision.facts, "scope": decision.scope,
        "suspension_until": decision.suspension_until.isoformat() if decision.suspension_until else None,
        "suspension_permanent": decision.suspension_permanent,
        "delay_item": decision.delay_item,
        **_inquiry(session, decision), "decided_at": decision.decided_at.isoformat(), "decided_by": user.pseudonym,
        "decided_by_role": user.role, "ai_assisted": decision.ai_assisted, "model_version": decision.model_version,
        "score": decision.score, "post": case.post, "poster": {"id": case.author_id},
        "requests": requests, "reverses": decision.reverses,
    })


def _inquiry(session: Session, decision: Decision) -> dict:
    """The poster's reply window and the INQ notice's id, decided once here and carried in the
    event: the notifier issues the INQ under that id, counts the window from delivery and
    reports the end back."""
    inquiry = session.get(PosterInquiry, decision.id) if decision.action == "poster_inquiry" else None
    if inquiry is None:
        return {"inquiry_days": None, "inquiry_notice_id": None}
    return {"inquiry_days": clock.inquiry_days(inquiry.request_type), "inquiry_notice_id": inquiry.notice_id}
