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


def _absorb_report(case: Case, report: CaseReport, seen_reporter: bool) -> None:
    """Add one new report to the case's figures without re-reading the others: during a
    report storm (炎上) one post gets thousands of reports, and a full recount per report
    would make the projection quadratic. The priority is recomputed once per batch."""
    case.report_count += 1
    if not seen_reporter:
        case.reporter_count += 1
    if report.treated_as == "deletion_request":
        case.request_count += 1
        if report.status == "open" and report.deadline_at is not None:
            current = case.next_deadline_at
            case.next_deadline_at = report.deadline_at if current is None else min(current, report.deadline_at)
    label = report.reason_category or report.right_infringed
    if label and label not in (case.reason_categories or []):
        case.reason_categories = sorted([*(case.reason_categories or []), label])


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
    """One report (its held scores are not applied: see BatchProjection.reports)."""
    batch = BatchProjection(session, now or utcnow())
    batch.reports([env], with_waiting=False)
    batch.finish()


def apply_score(session: Session, env: Envelope) -> bool:
    """Apply a score once (True if applied now or before); False while its report is unknown."""
    batch = BatchProjection(session, utcnow())
    early = batch.scores([env])
    batch.finish()
    return not early


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


def _by_key(session: Session, column, keys) -> dict:
    """Rows whose ``column`` is one of ``keys``, by that key, in one query."""
    keys = list(dict.fromkeys(keys))
    rows = session.scalars(sa.select(column.class_).where(column.in_(keys))).all() if keys else []
    return {getattr(row, column.key): row for row in rows}


class BatchProjection:
    """A batch of reports and scores applied together in one transaction: each case read once
    and updated once, the new reports and inbox rows inserted together, the audit entries
    chained under one lock and one read of the head, and each touched case's priority
    recomputed once (``finish``). The figures equal those of applying the events one by one
    (tests/integration/test_projection_batch.py compares them with a full recount)."""

    def __init__(self, session: Session, now: dt.datetime):
        self.session, self.now = session, now
        self.cases: dict[str, Case] = {}
        self.touched: dict[str, Case] = {}
        self.recount: set[str] = set()  # cases opened or reopened here: their figures are recounted

    def _load_cases(self, ids) -> None:
        self.cases.update(_by_key(self.session, Case.id, [i for i in ids if i not in self.cases]))

    def reports(self, envs: list[Envelope], with_waiting: bool = True) -> None:
        """New reports (inbox already claimed), then the scores held for them."""
        if not envs:
            return
        datas = [env.data for env in envs]
        self._load_cases(d["case_id"] for d in datas)
        known = _by_key(self.session, CaseReport.report_id, (d["report_id"] for d in datas))
        seen = self._reporters_seen(datas)
        for data in datas:
            case, reopened = self._case_for(data)
            if data["report_id"] not in known:
                report = _new_report(case.id, data)
                self.session.add(report)
                known[report.report_id] = report
                if case.id not in self.recount:
                    _absorb_report(case, report, (case.id, report.reporter_id) in seen)
                seen.add((case.id, report.reporter_id))
            self.touched[case.id] = case
            append_audit(self.session, case_id=case.id, event_type="report.received", actor="system:intake",
                         payload={"report_id": data["report_id"], "kind": data["kind"],
                                  "treated_as": data["treated_as"], "received_at": data["received_at"],
                                  "deadline_at": data.get("deadline_at"), "reopened": reopened}, at=self.now)
        if with_waiting:
            waiting = take_waiting(self.session, ParkedEvent, SCORES_CONSUMER,
                                   [f"report:{d['report_id']}" for d in datas])
            self.scores(waiting)

    def _reporters_seen(self, datas: list[dict]) -> set[tuple[str, str]]:
        """(case, reporter) pairs that already have a report: a reporter counts once per case."""
        reporters = {(d.get("reporter") or domain.OWN_DETECTION_REPORTER)["id"] for d in datas}
        case_ids = [c for c in {d["case_id"] for d in datas} if c in self.cases]
        if not case_ids:
            return set()
        return set(self.session.execute(sa.select(CaseReport.case_id, CaseReport.reporter_id).where(
            CaseReport.case_id.in_(case_ids), CaseReport.reporter_id.in_(reporters)).distinct()).all())

    def _case_for(self, data: dict) -> tuple[Case, bool]:
        """The report's case, opened if new (flushed at once: a second case for the same post
        fails here, and the event is parked) or reopened if decided; and whether reopened."""
        case = self.cases.get(data["case_id"])
        if case is None:
            case = Case(id=data["case_id"], post_id=data["post"]["id"], author_id=data["post"]["author_id"],
                        post=data["post"], evidence_sha256=data.get("evidence_sha256"),
                        post_evidence=data.get("evidence") or "sns", status="open",
                        created_at=clock.parse_instant(data["received_at"]), updated_at=self.now,
                        reason_categories=[])
            self.session.add(case)
            self.session.flush()
            self.cases[case.id] = case
            self.recount.add(case.id)
            return case, False
        _take_sns_evidence(self.session, case, data, self.now)
        if case.status != "open":
            case.status, case.stage, case.decided_at = "open", None, None  # new report on a decided post
            end_assignment(self.session, case.id, actor="system:intake", why="reopened", now=self.now)
            self.recount.add(case.id)
            return case, True
        return case, False

    def scores(self, envs: list[Envelope]) -> list[Envelope]:
        """Attach scores once each; returns those whose report is not known yet."""
        if not envs:
            return []
        done = set(self.session.scalars(sa.select(Inbox.event_id).where(
            Inbox.consumer == SCORES_CONSUMER, Inbox.event_id.in_({env.id for env in envs}))))
        reports = _by_key(self.session, CaseReport.report_id, (env.data["report_id"] for env in envs))
        self._load_cases(report.case_id for report in reports.values())
        early = []
        for env in envs:
            report = reports.get(env.data["report_id"])
            if env.id in done:
                continue
            if report is None:
                early.append(env)
                continue
            done.add(env.id)
            report.score, report.categories = env.data["score"], env.data["categories"]
            report.model_version = env.data["model_version"]
            case = self.cases[report.case_id]
            if case.score is None or report.score > case.score:
                _take_score(case, report.score, report.categories, report.model_version)
            self.touched[case.id] = case
            append_audit(self.session, case_id=case.id, event_type="report.scored", actor="system:classifier",
                         payload={"report_id": report.report_id, "score": report.score,
                                  "model_version": report.model_version}, at=self.now)
            self.session.add(Inbox(consumer=SCORES_CONSUMER, event_id=env.id, event_type=env.type,
                                   processed_at=utcnow()))
        return early

    def finish(self) -> None:
        """Each touched case's priority once: recounted if opened or reopened here."""
        for case in self.touched.values():
            if case.id in self.recount:
                refresh_case(case, self.session, self.now)
            else:
                _reprioritise(case, self.session, self.now)
        self.touched.clear()


def _new_report(case_id: str, data: dict) -> CaseReport:
    reporter = data.get("reporter") or domain.OWN_DETECTION_REPORTER
    return CaseReport(
        report_id=data["report_id"], receipt_number=data.get("receipt_number"), case_id=case_id, kind=data["kind"], treated_as=data["treated_as"],
        reporter_id=reporter["id"], reporter=reporter, reason=data.get("reason"),
        reason_category=data.get("reason_category"), right_infringed=data.get("right_infringed"),
        request_type=data.get("request_type") or "ordinary", is_repeat=bool(data.get("is_repeat")),
        received_at=clock.parse_instant(data["received_at"]),
        deadline_at=clock.parse_instant(data["deadline_at"]) if data.get("deadline_at") else None,
        status="open")
