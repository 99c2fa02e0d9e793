"""The projection of intake's and the classifier's events into cases: one case per reported
post, its figures and its priority kept up to date as reports, scores and the notifier's
alerts arrive."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared import clock
from shared.db import Database, utcnow
from shared.events import Envelope
from shared.outbox import claim_inbox
from shared.parking import resolve_pending, take_waiting
from services.decision.alerts import service as alerts
from services.decision.audit.chain import append_audit
from services.decision.cases import domain
from services.decision.cases.models import Case, CaseReport
from services.decision.casework.service import end_assignment
from services.decision.models import Inbox, ParkedEvent

SCORES_CONSUMER = "project-scores"


def refresh_case(case: Case, session: Session, now: dt.datetime) -> None:
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
    _reprioritise(case, session, now)


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
    _reprioritise(case, session, now)


def _take_score(case: Case, score: float, categories: dict | None, model_version: str | None) -> None:
    case.score, case.categories, case.model_version = score, categories, model_version
    case.top_category = domain.top_category(categories)


def _reprioritise(case: Case, session: Session, now: dt.datetime) -> None:
    waiting = case.next_deadline_at is not None
    case.priority = domain.compute_priority(
        score=case.score, categories=case.categories, reporter_count=case.reporter_count,
        has_request=waiting, next_deadline_at=case.next_deadline_at, now=now,
        warning=clock.warning_window()) if case.status == "open" else 0.0
    case.updated_at = now
    alerts.note_if_urgent(session, case, now)  # the webhook's alert, in this same transaction


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
        end_assignment(session, case.id, actor="system:intake", why="reopened", now=now)
        reopened = True
    report = session.get(CaseReport, data["report_id"])
    if report is None:
        reporter = data.get("reporter") or domain.OWN_DETECTION_REPORTER
        report = CaseReport(
            report_id=data["report_id"], receipt_number=data.get("receipt_number"), case_id=case.id,
            kind=data["kind"], treated_as=data["treated_as"],
            reporter_id=reporter["id"], reporter=reporter, reason=data.get("reason"),
            reason_category=data.get("reason_category"), right_infringed=data.get("right_infringed"),
            request_type=data.get("request_type") or "ordinary", is_repeat=bool(data.get("is_repeat")),
            received_at=clock.parse_instant(data["received_at"]),
            deadline_at=clock.parse_instant(data["deadline_at"]) if data.get("deadline_at") else None,
            status="open")
        session.add(report)
        session.flush()
        if created or reopened:
            refresh_case(case, session, now)
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
    _reprioritise(case, session, now)
    append_audit(session, case_id=case.id, event_type="report.scored", actor="system:classifier",
                 payload={"report_id": report.report_id, "score": report.score,
                          "model_version": report.model_version}, at=now)
    return True


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
            refresh_case(case, uow.session, now)
        uow.commit()
        return len(cases)
