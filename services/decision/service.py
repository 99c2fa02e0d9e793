"""Decision service layer.

``record_decision`` is the one function that owns a decision's side effects: the decision
record, the case's state, the resolution of every report and request on the case, the audit
entries and the ``decision.recorded`` event (through the outbox) that the notifier turns into
notices. The web view and the JSON API both call it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from shared import clock
from shared.db import Database, utcnow
from shared.events import DECISION_RECORDED, Envelope, make_event, stable_id
from shared.outbox import claim_inbox, stage
from services.decision import domain
from services.decision.domain import DecisionInput, DecisionRefused
from services.decision.models import (ApiToken, AuditEvent, Case, CaseReport, Clause, CriteriaVersion,
                                      Decision, Inbox, Outbox, User)

SOURCE = "/modq/decision"
CLAIM_LEASE = dt.timedelta(minutes=15)
WARNING_WINDOW = dt.timedelta(hours=24)


# --- audit log -------------------------------------------------------------------------

def append_audit(session: Session, *, case_id: str | None, event_type: str, actor: str, payload: dict,
                 at: dt.datetime | None = None) -> AuditEvent:
    """Append one hash-chained entry. Appends are serialised so the chain stays linear."""
    at = at or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(7123001)"))
    last = session.execute(sa.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq = (last.seq + 1) if last else 1
    prev = last.hash if last else domain.GENESIS
    body = domain.canonical(payload)
    entry = AuditEvent(seq=seq, case_id=case_id, event_type=event_type, actor=actor, at=at, payload=body,
                       prev_hash=prev, hash=domain.chain_hash(prev, seq=seq, case_id=case_id, event_type=event_type,
                                                              actor=actor, at=at, payload=body))
    session.add(entry)
    session.flush()
    return entry


def verify_chain(session: Session, start: dt.datetime | None = None, end: dt.datetime | None = None) -> dict:
    """Recompute the chain over entries in [start, end]; report the first broken link."""
    query = sa.select(AuditEvent).order_by(AuditEvent.seq)
    if start:
        query = query.where(AuditEvent.at >= start)
    if end:
        query = query.where(AuditEvent.at <= end)
    prev_hash = None
    prev_seq = None
    checked = 0
    for entry in session.scalars(query).yield_per(1000):
        if prev_hash is None:
            before = session.execute(sa.select(AuditEvent.hash).where(AuditEvent.seq < entry.seq)
                                     .order_by(AuditEvent.seq.desc()).limit(1)).scalar()
            prev_hash = before or domain.GENESIS
            prev_seq = entry.seq - 1 if before else 0
        problem = None
        if entry.seq != prev_seq + 1:
            problem = f"entries missing between seq {prev_seq} and {entry.seq}"
        elif entry.prev_hash != prev_hash:
            problem = "prev_hash does not match the previous entry"
        elif entry.hash != domain.chain_hash(prev_hash, seq=entry.seq, case_id=entry.case_id,
                                             event_type=entry.event_type, actor=entry.actor, at=entry.at,
                                             payload=entry.payload):
            problem = "entry content does not match its hash"
        if problem:
            return {"intact": False, "checked": checked, "first_broken_seq": entry.seq, "problem": problem}
        prev_hash, prev_seq = entry.hash, entry.seq
        checked += 1
    return {"intact": True, "checked": checked, "first_broken_seq": None, "problem": None}


# --- users -----------------------------------------------------------------------------

DEV_USERS = ("moderator", "specialist", "supervisor", "auditor", "admin")


def create_user(session: Session, email: str, password: str, role: str) -> User:
    user = User(email=email.lower(), password_hash=generate_password_hash(password), role=role,
                pseudonym="mod-" + hashlib.sha256(email.lower().encode()).hexdigest()[:10],
                created_at=utcnow())
    session.add(user)
    session.flush()
    return user


def provision_dev_users(db: Database) -> None:
    """Development credentials: <role>@example.jp with password <role>. Never in production."""
    with db.unit_of_work() as uow:
        for role in DEV_USERS:
            email = f"{role}@example.jp"
            if uow.session.scalar(sa.select(User).where(User.email == email)) is None:
                create_user(uow.session, email, role, role)
        uow.commit()


def issue_token(db: Database, user_id: int, label: str = "") -> str:
    token = secrets.token_urlsafe(32)
    with db.unit_of_work() as uow:
        uow.session.add(ApiToken(user_id=user_id, token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                                 label=label, created_at=utcnow()))
        uow.commit()
    return token


# --- projection of intake's and the classifier's events --------------------------------

def _refresh(case: Case, session: Session, now: dt.datetime) -> None:
    reports = session.scalars(sa.select(CaseReport).where(CaseReport.case_id == case.id)).all()
    case.report_count = len(reports)
    case.reporter_count = len({r.reporter_id for r in reports})
    case.request_count = sum(1 for r in reports if r.treated_as == "deletion_request")
    waiting = [r.deadline_at for r in reports
               if r.treated_as == "deletion_request" and r.status == "open" and r.deadline_at]
    case.next_deadline_at = min(waiting) if waiting else None
    case.reason_categories = sorted({r.reason_category or r.right_infringed for r in reports
                                     if (r.reason_category or r.right_infringed)})
    scored = [r for r in reports if r.score is not None]
    if scored:
        best = max(scored, key=lambda r: r.score)
        case.score, case.categories, case.model_version = best.score, best.categories, best.model_version
        case.top_category = domain.top_category(best.categories)
    case.priority = domain.compute_priority(
        score=case.score, categories=case.categories, reporter_count=case.reporter_count,
        has_request=bool(waiting), next_deadline_at=case.next_deadline_at, now=now,
        warning=WARNING_WINDOW) if case.status == "open" else 0.0
    case.deadline_alert = case.status == "open" and domain.is_near_deadline(case.next_deadline_at, now, WARNING_WINDOW)
    case.updated_at = now


def on_report_received(session: Session, env: Envelope, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    data = env.data
    case = session.get(Case, data["case_id"])
    reopened = False
    if case is None:
        case = Case(id=data["case_id"], post_id=data["post"]["id"], author_id=data["post"]["author_id"],
                    post=data["post"], evidence_sha256=data.get("evidence_sha256"), status="open",
                    created_at=clock.parse_instant(data["received_at"]), updated_at=now, reason_categories=[])
        session.add(case)
        session.flush()
    elif case.status != "open":
        case.status, case.stage, case.decided_at = "open", None, None  # new report on a decided post
        reopened = True
    if session.get(CaseReport, data["report_id"]) is None:
        session.add(CaseReport(
            report_id=data["report_id"], case_id=case.id, kind=data["kind"], treated_as=data["treated_as"],
            reporter_id=data["reporter"]["id"], reporter=data["reporter"], reason=data.get("reason"),
            reason_category=data.get("reason_category"), right_infringed=data.get("right_infringed"),
            request_type=data.get("request_type") or "ordinary", is_repeat=bool(data.get("is_repeat")),
            received_at=clock.parse_instant(data["received_at"]),
            deadline_at=clock.parse_instant(data["deadline_at"]) if data.get("deadline_at") else None))
        session.flush()
    _refresh(case, session, now)
    append_audit(session, case_id=case.id, event_type="report.received", actor="system:intake",
                 payload={"report_id": data["report_id"], "kind": data["kind"], "treated_as": data["treated_as"],
                          "received_at": data["received_at"], "deadline_at": data.get("deadline_at"),
                          "reopened": reopened}, at=now)


def on_report_scored(session: Session, env: Envelope, now: dt.datetime | None = None) -> bool:
    """Attach a score. False if the report is not known yet (its event is still on the way)."""
    now = now or utcnow()
    report = session.get(CaseReport, env.data["report_id"])
    if report is None:
        return False
    report.score = env.data["score"]
    report.categories = env.data["categories"]
    report.model_version = env.data["model_version"]
    case = session.get(Case, report.case_id)
    _refresh(case, session, now)
    append_audit(session, case_id=case.id, event_type="report.scored", actor="system:classifier",
                 payload={"report_id": report.report_id, "score": report.score,
                          "model_version": report.model_version}, at=now)
    return True


def handle_events(db: Database, envelopes: list[Envelope]) -> None:
    from shared.events import ALERT, REPORT_RECEIVED, REPORT_SCORED

    with db.unit_of_work() as uow:
        deferred = []
        for env in envelopes:
            if env.type == REPORT_RECEIVED.name:
                if claim_inbox(uow.session, Inbox, "project-reports", env):
                    on_report_received(uow.session, env)
            elif env.type == ALERT.name:
                if claim_inbox(uow.session, Inbox, "alerts", env):
                    on_alert(uow.session, env)
        for env in envelopes:
            if env.type == REPORT_SCORED.name:
                if uow.session.get(Inbox, ("project-scores", env.id)) is not None:
                    continue
                if on_report_scored(uow.session, env):
                    claim_inbox(uow.session, Inbox, "project-scores", env)
                else:
                    deferred.append(env)
        uow.commit()
    if deferred:
        # The score overtook its report (different topics): fail the batch so it is retried.
        raise RuntimeError(f"{len(deferred)} scores arrived before their reports; retrying")


def on_alert(session: Session, env: Envelope, now: dt.datetime | None = None) -> None:
    """The notifier held a notice or warned about a deadline: flag the case in the queue."""
    case = session.get(Case, env.data["case_id"])
    if case is None:
        return
    if env.data["alert"] in ("notice_held", "notice_undeliverable"):
        case.notice_blocked = True
    append_audit(session, case_id=case.id, event_type=f"alert.{env.data['alert']}", actor="system:notifier",
                 payload={"detail": env.data["detail"], "request_id": env.data.get("request_id")}, at=now)


def refresh_clocks(db: Database, now: dt.datetime | None = None) -> int:
    """Recompute priority of open cases with a running §25 clock (urgency grows with time)."""
    now = now or utcnow()
    with db.unit_of_work() as uow:
        cases = uow.session.scalars(sa.select(Case).where(Case.status == "open",
                                                          Case.next_deadline_at.is_not(None))).all()
        for case in cases:
            _refresh(case, uow.session, now)
        uow.commit()
        return len(cases)


# --- criteria (§26) ---------------------------------------------------------------------

def clause_in_force(session: Session, clause_id: str, now: dt.datetime) -> Clause:
    """The clause as worded in the newest version published at least 14 days ago."""
    version = session.scalar(
        sa.select(CriteriaVersion).where(CriteriaVersion.status == "published",
                                         CriteriaVersion.published_at <= now - domain.CRITERIA_MIN_AGE)
        .order_by(CriteriaVersion.published_at.desc()).limit(1))
    if version is None:
        raise DecisionRefused("公表から14日を経過した削除基準がありません（no criteria in force for 14 days）", "clause_id")
    clause = session.get(Clause, (version.version, clause_id))
    if clause is None:
        newer = session.scalar(sa.select(Clause).join(CriteriaVersion).where(
            Clause.clause_id == clause_id, CriteriaVersion.published_at > now - domain.CRITERIA_MIN_AGE))
        if newer is not None:
            raise DecisionRefused(f"条項 {clause_id} は公表から14日を経過していません（§26: not in force yet）", "clause_id")
        raise DecisionRefused(f"条項 {clause_id} は施行中の削除基準にありません（unknown clause）", "clause_id")
    return clause


def criteria_in_force(session: Session, now: dt.datetime) -> tuple[CriteriaVersion | None, list[Clause]]:
    version = session.scalar(
        sa.select(CriteriaVersion).where(CriteriaVersion.status == "published",
                                         CriteriaVersion.published_at <= now - domain.CRITERIA_MIN_AGE)
        .order_by(CriteriaVersion.published_at.desc()).limit(1))
    if version is None:
        return None, []
    clauses = session.scalars(sa.select(Clause).where(Clause.version == version.version)
                              .order_by(Clause.clause_id)).all()
    return version, list(clauses)


# --- claims -----------------------------------------------------------------------------

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
        return uow.session.get(Case, case_id)


def release_case(db: Database, case_id: str, user: User) -> None:
    with db.unit_of_work() as uow:
        uow.session.execute(sa.update(Case).where(Case.id == case_id, Case.claimed_by == user.id)
                            .values(claimed_by=None, claim_expires_at=None)
                            .execution_options(synchronize_session=False))
        append_audit(uow.session, case_id=case_id, event_type="case.released", actor=user.pseudonym, payload={})
        uow.commit()


# --- decisions --------------------------------------------------------------------------

def record_decision(db: Database, case_id: str, user: User, data: DecisionInput,
                    now: dt.datetime | None = None) -> Decision:
    now = now or utcnow()
    domain.validate_input(data, now)
    if user.role not in ("moderator", "specialist", "supervisor", "admin"):
        raise DecisionRefused("この役割では決定できません（role may not decide）", status=403)
    with db.unit_of_work() as uow:
        session = uow.session
        case = session.get(Case, case_id)
        if case is None:
            raise DecisionRefused("case not found", status=404)
        if case.status != "open":
            raise DecisionRefused("この案件は決定済みです（already decided）", status=409)
        if case.claimed_by not in (None, user.id) and case.claim_expires_at and case.claim_expires_at > now:
            raise DecisionRefused("この案件は他のモデレーターが担当中です（claimed by someone else）", status=409)
        if data.expected_version is not None and data.expected_version != case.version:
            raise DecisionRefused("案件が更新されました。内容を確認してからもう一度決定してください（stale form）",
                                  status=409)
        clause = clause_in_force(session, data.clause_id, now) if data.clause_id else None
        if clause and data.action == "suspend_account" and not clause.covers_suspension:
            raise DecisionRefused(f"条項 {clause.clause_id} はアカウント停止を定めていません", "clause_id")
        final = data.action in domain.MEASURES
        decision = Decision(
            id=str(uuid.uuid4()), case_id=case.id, action=data.action, final=final,
            measure=data.action if final else None,
            clause_version=clause.version if clause else None, clause_id=clause.clause_id if clause else None,
            clause_snapshot=_clause_snapshot(session, clause) if clause else None,
            exception_code=data.exception_code, reason=data.reason.strip(), facts=(data.facts or "").strip() or None,
            scope=data.scope or {"whole_post": True}, suspension_until=data.suspension_until,
            delay_item=_delay_item(data), decided_by=user.id, decided_by_role=user.role,
            specialist_reviewed=user.role == "specialist", ai_assisted=case.score is not None,
            model_version=case.model_version, score=case.score, reverses=data.reverses, decided_at=now)
        session.add(decision)
        reports = session.scalars(sa.select(CaseReport).where(CaseReport.case_id == case.id,
                                                              CaseReport.status != "resolved")).all()
        for report in reports:
            report.status = "resolved" if final else "extended"
            report.resolved_by = decision.id if final else report.resolved_by
        if final:
            case.status, case.stage, case.decided_at = "decided", None, now
        else:
            case.stage = data.action
        case.claimed_by, case.claim_expires_at = None, None
        session.flush()
        _refresh(case, session, now)
        event = decision_event(session, case, decision, reports, user)
        stage(session, Outbox, event, DECISION_RECORDED.topic, key=case.id)
        append_audit(session, case_id=case.id, event_type=f"decision.{data.action}", actor=user.pseudonym,
                     payload={"decision_id": decision.id, "clause": decision.clause_snapshot,
                              "exception_code": decision.exception_code, "reason": decision.reason,
                              "scope": decision.scope, "requests": [r.report_id for r in reports]}, at=now)
        uow.commit()
        return decision


def _delay_item(data: DecisionInput) -> str | None:
    return {"poster_inquiry": "i", "refer_specialist": "ii", "delay_other": "iii"}.get(data.action)


def _clause_snapshot(session: Session, clause: Clause) -> dict:
    version = session.get(CriteriaVersion, clause.version)
    return {"id": clause.clause_id, "version": clause.version, "title": clause.title, "text": clause.text,
            "published_at": version.published_at.isoformat() if version and version.published_at else None}


def decision_event(session: Session, case: Case, decision: Decision, reports: list[CaseReport], user: User):
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
        "reason": decision.reason, "facts": decision.facts, "scope": decision.scope,
        "suspension_until": decision.suspension_until.isoformat() if decision.suspension_until else None,
        "delay_item": decision.delay_item,
        "inquiry_days": None, "decided_at": decision.decided_at.isoformat(), "decided_by": user.pseudonym,
        "decided_by_role": user.role, "ai_assisted": decision.ai_assisted, "model_version": decision.model_version,
        "score": decision.score, "post": case.post, "poster": {"id": case.author_id},
        "requests": requests, "reverses": decision.reverses,
    })


# --- the queue --------------------------------------------------------------------------

def queue(session: Session, *, status: str = "open", kind: str | None = None, category: str | None = None,
          near_deadline: bool = False, claimed_by: int | None = None, limit: int = 50, offset: int = 0,
          now: dt.datetime | None = None) -> list[Case]:
    now = now or utcnow()
    query = sa.select(Case).where(Case.status == status)
    if kind == "deletion_request":
        query = query.where(Case.request_count > 0)
    elif kind == "report":
        query = query.where(Case.request_count == 0)
    if category:
        query = query.where(Case.top_category == category)
    if near_deadline:
        query = query.where(Case.next_deadline_at.is_not(None), Case.next_deadline_at <= now + WARNING_WINDOW)
    if claimed_by is not None:
        query = query.where(Case.claimed_by == claimed_by)
    query = query.order_by(Case.priority.desc(), Case.created_at.asc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def queue_counts(session: Session, now: dt.datetime | None = None) -> dict:
    now = now or utcnow()
    open_q = sa.select(sa.func.count()).select_from(Case).where(Case.status == "open")
    return {
        "open": session.scalar(open_q) or 0,
        "requests": session.scalar(open_q.where(Case.request_count > 0)) or 0,
        "near_deadline": session.scalar(open_q.where(Case.next_deadline_at.is_not(None),
                                                     Case.next_deadline_at <= now + WARNING_WINDOW)) or 0,
        "blocked_notices": session.scalar(open_q.where(Case.notice_blocked.is_(True))) or 0,
    }
