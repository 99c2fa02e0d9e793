"""Decision service layer.

``record_decision`` is the one function that owns a decision's side effects: the decision
record, the case's state, the resolution of every report and request on the case, the audit
entries and the ``decision.recorded`` event (through the outbox) that the notifier turns into
notices. The web view and the JSON API both call it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from shared import clock
from shared.db import Database, utcnow
from shared.events import DECISION_RECORDED, Envelope, make_event, stable_id
from shared.outbox import claim_inbox, stage
from shared.parking import hold_pending, resolve_pending, take_waiting
from shared.pseudonyms import pseudonym
from services.decision import auditlog, domain, duties
from services.decision.domain import DecisionInput, DecisionRefused
from services.decision.models import (ApiToken, AuditEvent, Case, CaseReport, Clause, CriteriaVersion,
                                      Decision, Inbox, Outbox, ParkedEvent, PosterInquiry, PosterReply, User)

log = logging.getLogger(__name__)
SOURCE = "/modq/decision"
CLAIM_LEASE = dt.timedelta(minutes=15)
WARNING_WINDOW = dt.timedelta(hours=24)


# --- audit log -------------------------------------------------------------------------

# The log's functions live in services.decision.auditlog; callers use them through here.
append_audit, verify_chain = auditlog.append_audit, auditlog.verify_chain


# --- users -----------------------------------------------------------------------------

DEV_USERS = ("moderator", "specialist", "supervisor", "auditor", "admin", "sns")


def create_user(session: Session, email: str, password: str, role: str) -> User:
    user = User(email=email.lower(), password_hash=generate_password_hash(password), role=role,
                pseudonym="mod-" + pseudonym("moderator", email.lower(), 10),
                created_at=utcnow())
    session.add(user)
    session.flush()
    return user


def provision_dev_users(db: Database) -> None:
    """Development credentials: <role>@example.jp with password <role>. Never in production."""
    with db.unit_of_work() as uow:
        for role in DEV_USERS:
            email = f"{role}@example.jp"
            user = uow.session.scalar(sa.select(User).where(User.email == email))
            if user is None:
                user = create_user(uow.session, email, role, role)
            if role == "specialist":
                duties.appoint_specialist(uow.session, user, by="system:dev-users")
        uow.commit()


def issue_token(db: Database, user_id: int, label: str = "", expires_at: dt.datetime | None = None) -> str:
    token = secrets.token_urlsafe(32)
    with db.unit_of_work() as uow:
        uow.session.add(ApiToken(user_id=user_id, token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                                 label=label, created_at=utcnow(), expires_at=expires_at))
        uow.commit()
    return token


# --- projection of intake's and the classifier's events --------------------------------

def _refresh(case: Case, session: Session, now: dt.datetime) -> None:
    """Recompute a case's figures from all its reports, in SQL (a hot case has thousands)."""
    is_request = CaseReport.treated_as == "deletion_request"
    waiting = sa.case((sa.and_(is_request, CaseReport.status == "open"), CaseReport.deadline_at))
    counts = session.execute(sa.select(
        sa.func.count(), sa.func.count(sa.distinct(CaseReport.reporter_id)),
        sa.func.coalesce(sa.func.sum(sa.case((is_request, 1), else_=0)), 0), sa.func.min(waiting))
        .where(CaseReport.case_id == case.id)).one()
    case.report_count, case.reporter_count, case.request_count, case.next_deadline_at = counts
    label = sa.func.coalesce(CaseReport.reason_category, CaseReport.right_infringed)
    case.reason_categories = sorted(c for c in session.scalars(
        sa.select(label).where(CaseReport.case_id == case.id, label.is_not(None)).distinct()))
    best = session.execute(sa.select(CaseReport.score, CaseReport.categories, CaseReport.model_version)
                           .where(CaseReport.case_id == case.id, CaseReport.score.is_not(None))
                           .order_by(CaseReport.score.desc()).limit(1)).first()
    if best is not None:
        _take_score(case, *best)
    _reprioritise(case, now)


def _absorb_report(case: Case, report: CaseReport, session: Session, now: dt.datetime) -> None:
    """Add one new report to the case's figures without re-reading the others: during a
    report storm (炎上) one post gets thousands of reports, and a full recount per report
    would make the projection quadratic."""
    case.report_count += 1
    seen_reporter = session.scalar(sa.select(CaseReport.report_id).where(
        CaseReport.case_id == case.id, CaseReport.reporter_id == report.reporter_id,
        CaseReport.report_id != report.report_id).limit(1))
    if seen_reporter is None:
        case.reporter_count += 1
    if report.treated_as == "deletion_request":
        case.request_count += 1
        if report.status == "open" and report.deadline_at is not None:
            current = case.next_deadline_at
            case.next_deadline_at = report.deadline_at if current is None else min(current, report.deadline_at)
    label = report.reason_category or report.right_infringed
    if label and label not in (case.reason_categories or []):
        case.reason_categories = sorted([*(case.reason_categories or []), label])
    _reprioritise(case, now)


def _take_score(case: Case, score: float, categories: dict | None, model_version: str | None) -> None:
    case.score, case.categories, case.model_version = score, categories, model_version
    case.top_category = domain.top_category(categories)


def _reprioritise(case: Case, now: dt.datetime) -> None:
    waiting = case.next_deadline_at is not None
    case.priority = domain.compute_priority(
        score=case.score, categories=case.categories, reporter_count=case.reporter_count,
        has_request=waiting, next_deadline_at=case.next_deadline_at, now=now,
        warning=WARNING_WINDOW) if case.status == "open" else 0.0
    case.deadline_alert = case.status == "open" and domain.is_near_deadline(case.next_deadline_at, now, WARNING_WINDOW)
    case.updated_at = now


def _take_sns_evidence(session: Session, case: Case, data: dict, now: dt.datetime) -> None:
    """A case opened by the public form holds only the URL the requester gave; the SNS's signed
    report brings the post itself, which replaces it. The SNS's copy is never replaced."""
    if case.post_evidence != "requester" or (data.get("evidence") or "sns") != "sns":
        return
    case.post, case.author_id = data["post"], data["post"]["author_id"]
    case.evidence_sha256, case.post_evidence = data.get("evidence_sha256"), "sns"
    append_audit(session, case_id=case.id, event_type="case.evidence_from_sns", actor="system:intake",
                 payload={"report_id": data["report_id"], "evidence_sha256": case.evidence_sha256}, at=now)


def on_report_received(session: Session, env: Envelope, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    data = env.data
    case = session.get(Case, data["case_id"])
    reopened = created = False
    if case is None:
        created = True
        case = Case(id=data["case_id"], post_id=data["post"]["id"], author_id=data["post"]["author_id"],
                    post=data["post"], evidence_sha256=data.get("evidence_sha256"),
                    post_evidence=data.get("evidence") or "sns", status="open",
                    created_at=clock.parse_instant(data["received_at"]), updated_at=now, reason_categories=[])
        session.add(case)
        session.flush()
    else:
        _take_sns_evidence(session, case, data, now)
    if not created and case.status != "open":
        case.status, case.stage, case.decided_at = "open", None, None  # new report on a decided post
        reopened = True
    report = session.get(CaseReport, data["report_id"])
    if report is None:
        reporter = data.get("reporter") or domain.OWN_DETECTION_REPORTER
        report = CaseReport(
            report_id=data["report_id"], case_id=case.id, kind=data["kind"], treated_as=data["treated_as"],
            reporter_id=reporter["id"], reporter=reporter, reason=data.get("reason"),
            reason_category=data.get("reason_category"), right_infringed=data.get("right_infringed"),
            request_type=data.get("request_type") or "ordinary", is_repeat=bool(data.get("is_repeat")),
            received_at=clock.parse_instant(data["received_at"]),
            deadline_at=clock.parse_instant(data["deadline_at"]) if data.get("deadline_at") else None,
            status="open")
        session.add(report)
        session.flush()
        if created or reopened:
            _refresh(case, session, now)
        else:
            _absorb_report(case, report, session, now)
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
    if case.score is None or report.score > case.score:
        _take_score(case, report.score, report.categories, report.model_version)
    _reprioritise(case, now)
    append_audit(session, case_id=case.id, event_type="report.scored", actor="system:classifier",
                 payload={"report_id": report.report_id, "score": report.score,
                          "model_version": report.model_version}, at=now)
    return True


SCORES_CONSUMER = "project-scores"


def handle_events(db: Database, envelopes: list[Envelope]) -> None:
    from shared.events import ALERT, INQUIRY_DELIVERED, POSTER_REPLY, REPORT_RECEIVED, REPORT_SCORED

    with db.unit_of_work() as uow:
        for env in envelopes:
            if env.type == REPORT_RECEIVED.name:
                if claim_inbox(uow.session, Inbox, "project-reports", env):
                    on_report_received(uow.session, env)
                    apply_waiting_scores(uow.session, env.data["report_id"])
            elif env.type == ALERT.name:
                if claim_inbox(uow.session, Inbox, "alerts", env):
                    on_alert(uow.session, env)
            elif env.type == INQUIRY_DELIVERED.name:
                if claim_inbox(uow.session, Inbox, "inquiries-delivered", env):
                    on_inquiry_delivered(uow.session, env)
            elif env.type == POSTER_REPLY.name:
                if claim_inbox(uow.session, Inbox, "poster-replies", env):
                    on_poster_reply(uow.session, env)
        # A score that overtook its report (they travel on different topics) is held until the
        # report arrives rather than holding up the partition.
        early = [(env, f"report:{env.data['report_id']}") for env in envelopes
                 if env.type == REPORT_SCORED.name and not apply_score(uow.session, env)]
        hold_pending(uow.session, ParkedEvent, SCORES_CONSUMER, early)
        uow.commit()


def apply_score(session: Session, env: Envelope) -> bool:
    """Apply a score once (True if applied now or before); False while its report is unknown."""
    if session.get(Inbox, (SCORES_CONSUMER, env.id)) is not None:
        return True
    if not on_report_scored(session, env):
        return False
    claim_inbox(session, Inbox, SCORES_CONSUMER, env)
    return True


def apply_waiting_scores(session: Session, report_id: str) -> None:
    """Scores held for this report, applied in the report's transaction."""
    for env in take_waiting(session, ParkedEvent, SCORES_CONSUMER, f"report:{report_id}"):
        apply_score(session, env)


def resolve_pending_scores(db: Database, max_wait: dt.timedelta, on_parked=None) -> dict:
    """Apply held scores whose report arrived meanwhile (in a transaction that could not see
    the held score); park those that waited longer than ``max_wait``."""
    report_known = sa.exists().where(CaseReport.report_id == sa.func.substr(ParkedEvent.waiting_for,
                                                                            len("report:") + 1))
    return resolve_pending(db, ParkedEvent, SCORES_CONSUMER, apply_score, max_wait, on_parked, ready=report_known)


def on_poster_reply(session: Session, env: Envelope) -> None:
    """A reply from the Kafka topic. One that names no known inquiry cannot be retried into
    validity: it is logged and dropped rather than blocking the topic."""
    try:
        with session.begin_nested():
            record_poster_reply(session, env.data, reply_id=env.id, actor="system:sns")
    except DecisionRefused as exc:
        log.warning("poster reply %s refused: %s", env.id, exc.message)


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

def newest_version_in_force(session: Session, now: dt.datetime) -> CriteriaVersion | None:
    """The newest published version whose 14 days (JST calendar days, §26) have passed."""
    candidates = session.scalars(
        sa.select(CriteriaVersion).where(CriteriaVersion.status == "published",
                                         CriteriaVersion.published_at <= now - domain.CRITERIA_MIN_AGE)
        .order_by(CriteriaVersion.published_at.desc()))
    return next((v for v in candidates if domain.criteria_in_force_since(v.published_at, now)), None)


def clause_in_force(session: Session, clause_id: str, now: dt.datetime) -> Clause:
    """The clause as worded in the newest version published at least 14 days ago."""
    version = newest_version_in_force(session, now)
    if version is None:
        raise DecisionRefused("公表から14日を経過した削除基準がありません（no criteria in force for 14 days）", "clause_id")
    clause = session.get(Clause, (version.version, clause_id))
    if clause is None:
        newer = session.scalar(sa.select(Clause).join(CriteriaVersion).where(
            Clause.clause_id == clause_id, CriteriaVersion.status == "published",
            CriteriaVersion.published_at > version.published_at).limit(1))
        if newer is not None:
            raise DecisionRefused(f"条項 {clause_id} は公表から14日を経過していません（§26: not in force yet）", "clause_id")
        raise DecisionRefused(f"条項 {clause_id} は施行中の削除基準にありません（unknown clause）", "clause_id")
    return clause


def criteria_in_force(session: Session, now: dt.datetime) -> tuple[CriteriaVersion | None, list[Clause]]:
    version = newest_version_in_force(session, now)
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


# --- decisions --------------------------------------------------------------------------

CAN_OVERRIDE_CLAIM = ("supervisor", "admin")


def _check_claim(case: Case, user: User, data: DecisionInput, now: dt.datetime) -> str | None:
    """A decision needs the decider's live claim, so two people never decide one case at once
    and each decision has one owner. A supervisor may override; the return value is whose
    claim was overridden ("none" when nobody held it), or None when no override happened."""
    held = case.claimed_by is not None and case.claim_expires_at is not None and case.claim_expires_at > now
    if held and case.claimed_by == user.id:
        return None
    if data.override_claim:
        if user.role not in CAN_OVERRIDE_CLAIM:
            raise DecisionRefused("担当の引き継ぎはスーパーバイザーのみ行えます（override_claim needs a supervisor）",
                                  "override_claim", status=403)
        return str(case.claimed_by) if held else "none"
    if held:
        raise DecisionRefused("この案件は他のモデレーターが担当中です（claimed by someone else）", status=409)
    raise DecisionRefused("先に案件を担当してください（claim the case first: POST /v1/cases/<id>/claim）",
                          "claim", status=409)

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
        overridden = _check_claim(case, user, data, now)
        if case.stage == "refer_specialist" and data.action in domain.MEASURES:
            # The requester was told a 専門員 investigates (N3, §25(2)(ii)): one on the roster decides.
            duties.check_referred_case_decider(session, user)
        if data.action == "refer_specialist":
            duties.check_referral_possible(session)
        if data.expected_version is not None and data.expected_version != case.version:
            raise DecisionRefused("案件が更新されました。内容を確認してからもう一度決定してください（stale form）",
                                  status=409)
        if data.action in ("remove", "hide", "suspend_account"):
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
        final = data.action in domain.MEASURES
        decision = Decision(
            id=str(uuid.uuid4()), case_id=case.id, action=data.action, final=final,
            measure=data.action if final else None,
            clause_version=clause.version if clause else None, clause_id=clause.clause_id if clause else None,
            clause_snapshot=_clause_snapshot(session, clause) if clause else None,
            exception_code=data.exception_code, reason=data.reason.strip(), facts=(data.facts or "").strip() or None,
            requester_reason=(data.requester_reason or "").strip() or None,
            scope=domain.normal_scope(data.scope), suspension_until=data.suspension_until,
            suspension_permanent=data.action == "suspend_account" and data.suspension_permanent,
            delay_item=_delay_item(data), decided_by=user.id, decided_by_role=user.role,
            specialist_reviewed=user.role == "specialist", ai_assisted=case.score is not None,
            model_version=case.model_version, score=case.score, reverses=data.reverses, decided_at=now)
        session.add(decision)
        if final and data.exception_code == "urgent_unforeseen":
            duties.raise_amendment_due(session, decision_id=decision.id, case_id=case.id, actor=user.pseudonym,
                                       summary=decision.facts or decision.reason, now=now)
        reports = session.scalars(sa.select(CaseReport).where(CaseReport.case_id == case.id,
                                                              CaseReport.status != "resolved")).all()
        for report in reports:
            report.status = "resolved" if final else "extended"
            report.resolved_by = decision.id if final else report.resolved_by
        if final:
            case.status, case.stage, case.decided_at = "decided", None, now
        else:
            case.stage = data.action
        if data.action == "poster_inquiry":
            _open_inquiry(session, case, decision, reports, now)
        case.claimed_by, case.claim_expires_at = None, None
        session.flush()
        _refresh(case, session, now)
        event = decision_event(session, case, decision, reports, user)
        stage(session, Outbox, event, DECISION_RECORDED.topic, key=case.id)
        if overridden:
            append_audit(session, case_id=case.id, event_type="case.claim_overridden", actor=user.pseudonym,
                         payload={"claimed_by": overridden}, at=now)
        append_audit(session, case_id=case.id, event_type=f"decision.{data.action}", actor=user.pseudonym,
                     payload={"decision_id": decision.id, "clause": decision.clause_snapshot,
                              "suspension_until": decision.suspension_until.isoformat() if decision.suspension_until else None,
                              "suspension_permanent": decision.suspension_permanent,
                              "exception_code": decision.exception_code, "reason": decision.reason,
                              "scope": decision.scope, "requests": [r.report_id for r in reports]}, at=now)
        uow.commit()
    forget_cached_counts()  # whoever decided sees the counters move at once
    return decision


def _case_routes(session: Session, case_id: str) -> set[str]:
    """The routes of the reports still open on a case (all of them, if every one is resolved)."""
    rows = session.execute(sa.select(CaseReport.treated_as, CaseReport.reporter_id, CaseReport.status)
                           .where(CaseReport.case_id == case_id).distinct()).all()
    open_rows = [r for r in rows if r.status != "resolved"] or rows
    return {domain.report_route(r.treated_as, r.reporter_id) for r in open_rows}


def _open_inquiry(session: Session, case: Case, decision: Decision, reports: list[CaseReport],
                  now: dt.datetime) -> None:
    """Track the inquiry the notifier is about to send (its INQ notice id is derived the same way),
    so its delivery receipt and the poster's reply can be matched to it."""
    request_type = clock.inquiry_request_type(
        (r.request_type, r.right_infringed) for r in reports if r.treated_as == "deletion_request")
    session.add(PosterInquiry(decision_id=decision.id, case_id=case.id, notice_id=stable_id("notice", "INQ", decision.id),
                              request_type=request_type, sent_at=now, outcome="waiting"))
    case.ready_to_decide_at = None


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
        "reason": decision.reason, "requester_reason": decision.requester_reason,
        "facts": decision.facts, "scope": decision.scope,
        "suspension_until": decision.suspension_until.isoformat() if decision.suspension_until else None,
        "suspension_permanent": decision.suspension_permanent,
        "delay_item": decision.delay_item,
        "inquiry_days": _inquiry_days(session, decision), "decided_at": decision.decided_at.isoformat(), "decided_by": user.pseudonym,
        "decided_by_role": user.role, "ai_assisted": decision.ai_assisted, "model_version": decision.model_version,
        "score": decision.score, "post": case.post, "poster": {"id": case.author_id},
        "requests": requests, "reverses": decision.reverses,
    })


def _inquiry_days(session: Session, decision: Decision) -> int | None:
    """The poster's reply window, decided once here and carried in the event (the notifier
    counts it from delivery and reports the end back)."""
    inquiry = session.get(PosterInquiry, decision.id) if decision.action == "poster_inquiry" else None
    return clock.inquiry_days(inquiry.request_type) if inquiry is not None else None


# --- the queue --------------------------------------------------------------------------

QUEUE_VIEWS = ("specialist", "ready")


def queue(session: Session, *, status: str = "open", kind: str | None = None, category: str | None = None,
          near_deadline: bool = False, claimed_by: int | None = None, view: str | None = None,
          limit: int = 50, offset: int = 0, now: dt.datetime | None = None, where: tuple = ()) -> list[Case]:
    """Cases in queue order. ``view``: "specialist" (referred to a 専門員, §24/§25(2)(ii)) or
    "ready" (the poster's reply window ended without objection, §3(2)(ii)); ``where``: further
    conditions (the web view's search and its waiting-for-the-poster filter, queue_view.py)."""
    now = now or utcnow()
    query = sa.select(Case).where(Case.status == status, *where)
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
    near = sa.and_(Case.next_deadline_at.is_not(None), Case.next_deadline_at <= now + WARNING_WINDOW)
    ready = sa.and_(Case.ready_to_decide_at.is_not(None), Case.ready_to_decide_at <= now)
    return sa.select(
        sa.func.count(),
        sa.func.count().filter(Case.request_count > 0),
        sa.func.count().filter(near),
        sa.func.count().filter(Case.notice_blocked.is_(True)),
        sa.func.count().filter(Case.stage == "refer_specialist"),
        sa.func.count().filter(ready),
    ).select_from(Case).where(Case.status == "open")


# --- poster inquiries and replies (§3(2)(ii)) -------------------------------------------

def _start_reply_window(session: Session, inquiry: PosterInquiry, case: Case, delivered_at: dt.datetime,
                        window_ends_at: dt.datetime) -> None:
    """The window runs from delivery, as the notifier counted it; replies that came before
    the delivery event are judged now. Without an objection in time the case is ready to
    decide from the instant after the window ends."""
    inquiry.delivered_at = delivered_at
    inquiry.window_ends_at = window_ends_at
    inquiry.outcome = "waiting"
    for reply in session.scalars(sa.select(PosterReply).where(PosterReply.decision_id == inquiry.decision_id)):
        reply.late = reply.received_at > window_ends_at
        if reply.objection and not reply.late:
            inquiry.outcome = "objected"
    if inquiry.outcome == "waiting" and case.status == "open":
        case.ready_to_decide_at = inquiry.window_ends_at + dt.timedelta(microseconds=1)
    elif inquiry.outcome == "objected":
        case.ready_to_decide_at = None


def _reply_window_end(inquiry: PosterInquiry, delivered_at: dt.datetime) -> dt.datetime:
    """The window a reply is judged against: the notifier's, once delivery is known; before
    that, the same count (shared.clock) from the delivery time the SNS states."""
    return inquiry.window_ends_at or clock.inquiry_deadline(delivered_at, inquiry.request_type)


def on_inquiry_delivered(session: Session, env: Envelope, now: dt.datetime | None = None) -> None:
    """The notifier saw the INQ notice reach the poster: the reply window starts."""
    data = env.data
    inquiry = session.get(PosterInquiry, data["decision_id"]) or session.scalar(
        sa.select(PosterInquiry).where(PosterInquiry.notice_id == data["notice_id"]))
    if inquiry is None:
        log.warning("delivery of unknown inquiry %s", data["decision_id"])
        return
    if inquiry.delivered_at is not None:
        return
    case = session.get(Case, inquiry.case_id)
    session.flush()
    _start_reply_window(session, inquiry, case, clock.parse_instant(data["delivered_at"]),
                        clock.parse_instant(data["reply_deadline_at"]))
    append_audit(session, case_id=case.id, event_type="inquiry.delivered", actor="system:notifier",
                 payload={"decision_id": inquiry.decision_id, "delivered_at": data["delivered_at"],
                          "window_ends_at": inquiry.window_ends_at.isoformat()}, at=now)


def record_poster_reply(session: Session, data: dict, *, reply_id: str, actor: str,
                        now: dt.datetime | None = None) -> PosterReply:
    """Store a poster's reply once (the same ``reply_id`` returns the first record).

    An objection inside the window takes the case off 判断可能; a late one is kept and logged
    but changes nothing (§3(2)(ii): only an objection within the window counts)."""
    now = now or utcnow()
    existing = session.get(PosterReply, reply_id)
    if existing is not None:
        return existing
    inquiry = session.get(PosterInquiry, data["decision_id"])
    if inquiry is None or inquiry.case_id != data["case_id"]:
        raise DecisionRefused("この案件にその意見照会はありません（no such inquiry on this case）", "decision_id",
                              status=404)
    case = session.get(Case, inquiry.case_id)
    if data["poster_id"] != case.author_id:
        raise DecisionRefused("回答者が投稿者と一致しません（poster_id is not the post's author）", "poster_id",
                              status=422)
    received_at, delivered_at = _reply_instant(data, "received_at"), _reply_instant(data, "delivered_at")
    if received_at < delivered_at:
        raise DecisionRefused("回答日時が照会の到達より前です（received_at before delivered_at）", "received_at",
                              status=422)
    window_ends_at = _reply_window_end(inquiry, delivered_at)
    late = received_at > window_ends_at
    reply = PosterReply(id=reply_id, case_id=case.id, decision_id=inquiry.decision_id, poster_id=data["poster_id"],
                        objection=bool(data["objection"]), text=(data.get("text") or "").strip(),
                        received_at=received_at, delivered_at=delivered_at, late=late, recorded_at=now)
    session.add(reply)
    if reply.objection and not late:
        inquiry.outcome = "objected"
        case.ready_to_decide_at = None
    event_type = "poster.late_objection" if reply.objection and late else "poster.reply"
    append_audit(session, case_id=case.id, event_type=event_type, actor=actor, at=now, payload={
        "reply_id": reply_id, "decision_id": inquiry.decision_id, "objection": reply.objection, "late": late,
        "received_at": received_at.isoformat(), "delivered_at": delivered_at.isoformat(),
        "window_ends_at": window_ends_at.isoformat(), "window_from_delivery_event": inquiry.delivered_at is not None})
    session.flush()
    return reply


def _reply_instant(data: dict, field: str) -> dt.datetime:
    value = data[field]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise DecisionRefused(f"{field} needs a UTC offset", field, status=422)
        return value.astimezone(dt.timezone.utc)
    try:
        return clock.parse_instant(value)
    except (TypeError, ValueError):
        raise DecisionRefused(f"{field}: ISO 8601 date-time with offset expected", field, status=422) from None


def submit_poster_reply(db: Database, data: dict, *, reply_id: str | None,
                        actor: str) -> tuple[PosterReply, dt.datetime]:
    """Record a reply; gives it with the end of its reply window."""
    with db.unit_of_work() as uow:
        reply = record_poster_reply(uow.session, data, reply_id=reply_id or str(uuid.uuid4()), actor=actor)
        window_ends_at = _reply_window_end(uow.session.get(PosterInquiry, reply.decision_id), reply.delivered_at)
        uow.commit()
        return reply, window_ends_at


# --- criteria catalogue administration (§26) --------------------------------------------

CLAUSE_FIELDS = ("title", "text", "category", "routes", "measures", "covers_suspension", "examples")


def criteria_versions(session: Session, now: dt.datetime) -> dict:
    """Every version, sorted into in force, upcoming (published, not yet 14 days), past and drafts."""
    in_force, _ = criteria_in_force(session, now)
    versions = session.scalars(sa.select(CriteriaVersion).order_by(CriteriaVersion.created_at.desc())).all()
    published = [v for v in versions if v.status == "published"]
    return {
        "in_force": in_force,
        "upcoming": sorted([v for v in published if not domain.criteria_in_force_since(v.published_at, now)],
                           key=lambda v: v.published_at),
        "past": sorted([v for v in published if in_force is not None and v.version != in_force.version
                        and v.published_at < in_force.published_at], key=lambda v: v.published_at, reverse=True),
        "drafts": [v for v in versions if v.status == "draft"],
    }


def in_force_from(version: CriteriaVersion) -> dt.datetime | None:
    return clock.criteria_in_force_from(version.published_at) if version.published_at else None


def draft_criteria_version(session: Session, new_version: str, actor: str, note: str | None = None,
                           now: dt.datetime | None = None) -> CriteriaVersion:
    """A new draft, starting as a copy of the newest published version."""
    now = now or utcnow()
    new_version = (new_version or "").strip()
    if not new_version or len(new_version) > 32:
        raise DecisionRefused("版の名前を32文字以内で入力してください（version: 1–32 characters）", "version")
    if session.get(CriteriaVersion, new_version) is not None:
        raise DecisionRefused(f"版 {new_version} は既にあります（version exists）", "version", status=409)
    source = session.scalar(sa.select(CriteriaVersion).where(CriteriaVersion.status == "published")
                            .order_by(CriteriaVersion.published_at.desc()).limit(1))
    draft = CriteriaVersion(version=new_version, status="draft", note=(note or "").strip() or None, created_at=now)
    session.add(draft)
    session.flush()
    for clause in session.scalars(sa.select(Clause).where(Clause.version == source.version)) if source else []:
        session.add(Clause(version=new_version, clause_id=clause.clause_id,
                           **{f: getattr(clause, f) for f in CLAUSE_FIELDS}))
    append_audit(session, case_id=None, event_type="criteria.drafted", actor=actor, at=now,
                 payload={"version": new_version, "copied_from": source.version if source else None})
    session.flush()
    return draft


def _draft(session: Session, version: str) -> CriteriaVersion:
    draft = session.get(CriteriaVersion, version)
    if draft is None:
        raise DecisionRefused("版が見つかりません（version not found）", "version", status=404)
    if draft.status != "draft":
        raise DecisionRefused("公表済みの版は変更できません。新しい版を作成してください（published versions are frozen）",
                              "version", status=409)
    return draft


def save_clause(session: Session, version: str, clause_id: str, fields: dict, actor: str,
                now: dt.datetime | None = None) -> Clause:
    """Create or edit one clause of a draft."""
    _draft(session, version)
    clause_id = (clause_id or "").strip()
    values = domain.clean_clause(clause_id, fields)
    clause = session.get(Clause, (version, clause_id))
    if clause is None:
        clause = Clause(version=version, clause_id=clause_id, **values)
        session.add(clause)
    else:
        for key, value in values.items():
            setattr(clause, key, value)
    append_audit(session, case_id=None, event_type="criteria.clause_saved", actor=actor, at=now,
                 payload={"version": version, "clause_id": clause_id, **values})
    session.flush()
    return clause


def publish_criteria(session: Session, version: str, actor: str, now: dt.datetime | None = None) -> CriteriaVersion:
    """Publish a draft now. It governs measures only 14 days later (§26)."""
    now = now or utcnow()
    draft = _draft(session, version)
    if not session.scalar(sa.select(sa.func.count()).select_from(Clause).where(Clause.version == version)):
        raise DecisionRefused("条項のない版は公表できません（a version needs clauses）", "version")
    draft.status, draft.published_at = "published", now
    duties.resolve_amendments(session, version, now)  # §26(3): the amendment owed after an urgent measure
    append_audit(session, case_id=None, event_type="criteria.published", actor=actor, at=now,
                 payload={"version": version, "published_at": now.isoformat(),
                          "in_force_from": in_force_from(draft).isoformat()})
    session.flush()
    return draft
