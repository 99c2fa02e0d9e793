"""A varied, reproducible year of moderation fed through the decision service's own functions,
and the plan it was built from, so tests can count the expected figures independently."""
from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa

from shared.clock import s25_deadline
from shared.events import REPORT_RECEIVED, REPORT_SCORED, make_event, parse_event
from services.decision.cases import service as case_service
from services.decision.decisions import service as decision_service
from services.decision import handlers
from services.decision.audit import service as audit_service
from services.decision.decisions.domain import DecisionInput
from services.decision.users.models import User

UTC = dt.timezone.utc
START = dt.datetime(2025, 5, 1, 1, 0, tzinfo=UTC)      # 2025-05-01 10:00 JST, inside the 2025 §28 year
RIGHTS = ("名誉権", "プライバシー権", "肖像権")
CLAUSES = {"remove": ("D-1", "P-1", "I-1"), "hide": ("D-1", "P-1"), "suspend_account": ("T-1", "H-1", "X-1")}
STEPS = {"poster_inquiry": "i", "refer_specialist": "ii", "delay_other": "iii"}


@dataclass
class Report:
    report_id: str
    kind: str            # deletion_request | report | own
    received_at: dt.datetime
    right: str | None = None
    is_repeat: bool = False


@dataclass
class PlannedCase:
    case_id: str
    author_id: str
    reports: list[Report] = field(default_factory=list)
    scored: bool = False
    step: str | None = None
    step_at: dt.datetime | None = None
    measure: str | None = None
    clause: str | None = None
    permanent: bool = False
    decided_at: dt.datetime | None = None
    decided_by: str = "moderator"
    decision_id: str | None = None
    appeal: str | None = None          # None | open | upheld | reversed

    @property
    def route(self) -> str:
        kinds = {r.kind for r in self.reports}
        return "request" if "deletion_request" in kinds else ("report" if "report" in kinds else "own_detection")

    @property
    def requests(self) -> list[Report]:
        return [r for r in self.reports if r.kind == "deletion_request"]


def plan(n: int = 36, seed: int = 28) -> list[PlannedCase]:
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        received = START + dt.timedelta(days=5 * i, hours=rng.randrange(0, 20))
        case = PlannedCase(case_id=f"case-{i:03d}", author_id=f"u-poster-{i}", scored=rng.random() < 0.6)
        route = ("deletion_request", "report", "own")[i % 3]
        case.reports.append(Report(f"r-{i}-0", route, received, right=rng.choice(RIGHTS) if route == "deletion_request" else None))
        if route == "deletion_request" and rng.random() < 0.4:     # the same requester asks again
            case.reports.append(Report(f"r-{i}-1", route, received + dt.timedelta(hours=3), right=case.reports[0].right,
                                       is_repeat=True))
        if route != "own" and rng.random() < 0.3:                 # another user reports the same post
            case.reports.append(Report(f"r-{i}-2", "report", received + dt.timedelta(hours=5)))
        last_report = max(r.received_at for r in case.reports)
        if i % 7 == 6:
            cases.append(case)  # still undecided
            continue
        if rng.random() < 0.35:
            case.step = rng.choice(tuple(STEPS))
            case.step_at = last_report + dt.timedelta(days=rng.choice((1, 5)))
        case.measure = rng.choice(("remove", "hide", "suspend_account", "no_action", "remove"))
        case.clause = rng.choice(CLAUSES[case.measure]) if case.measure != "no_action" else None
        case.permanent = case.measure == "suspend_account" and rng.random() < 0.5
        case.decided_at = (case.step_at or last_report) + dt.timedelta(hours=rng.choice((2, 30, 100, 200)))
        case.decided_by = rng.choice(("moderator", "specialist"))
        if case.step == "refer_specialist":
            case.decided_by = "specialist"  # a referred case is decided by a 専門員 (§25(2)(ii))
        if case.measure != "no_action" and rng.random() < 0.45:
            case.appeal = rng.choice(("open", "upheld", "reversed", "reversed"))
        cases.append(case)
    return cases


def received_event(case: PlannedCase, report: Report):
    kind = "report" if report.kind == "own" else report.kind
    data = {
        "report_id": report.report_id, "case_id": case.case_id, "kind": kind, "treated_as": kind,
        "received_at": report.received_at.isoformat(),
        "deadline_at": s25_deadline(report.received_at).isoformat() if kind == "deletion_request" else None,
        "post": {"id": f"post-{case.case_id}", "url": f"https://sns.example.jp/posts/{case.case_id}",
                 "author_id": case.author_id, "text": "投稿本文", "posted_at": (START - dt.timedelta(days=1)).isoformat(),
                 "media": [{"type": "image"}] if case.case_id.endswith("1") else []},
        "reason": "私への誹謗中傷です", "right_infringed": report.right, "is_repeat": report.is_repeat,
        "reason_category": None if kind == "deletion_request" else "insult",
    }
    if report.kind != "own":   # own detection: no reporter at all
        data["reporter"] = {"id": f"reporter-{report.report_id}" if not report.is_repeat else
                            f"reporter-{case.reports[0].report_id}", "contact": "mail:r@example.jp",
                            "is_rights_holder": kind == "deletion_request"}
    return make_event(REPORT_RECEIVED, source="/t", subject=case.case_id, data=data)


def scored_event(case: PlannedCase):
    first = case.reports[0]
    return make_event(REPORT_SCORED, source="/t", subject=case.case_id, data={
        "report_id": first.report_id, "case_id": case.case_id, "score": 0.8,
        "categories": {"insult": 0.8, "none": 0.2}, "model_version": "tiny-1", "scored_at": first.received_at.isoformat()})


def users(runtime) -> dict[str, User]:
    with runtime.db.sessions() as s:
        return {u.role: u for u in s.scalars(sa.select(User))}


def feed(runtime, events) -> None:
    handlers.handle_events(runtime.db, [parse_event(e.to_json()) for e in events])


def run(runtime, cases: list[PlannedCase]) -> None:
    """Feed every report, score, step, decision, appeal and review of the plan."""
    staff = users(runtime)
    for case in cases:
        feed(runtime, [received_event(case, r) for r in case.reports])
        if case.scored:
            feed(runtime, [scored_event(case)])
        if case.step:
            case_service.claim_case(runtime.db, case.case_id, staff["moderator"], now=case.step_at)
            decision_service.record_decision(runtime.db, case.case_id, staff["moderator"],
                                    DecisionInput(action=case.step, reason="発信者の意見を聴くため",
                                                  requester_reason="確認に時間を要しているため"), now=case.step_at)
        if case.measure:
            decide(runtime, case, staff)
        if case.appeal:
            appeal(runtime, case, staff)


def decide(runtime, case: PlannedCase, staff: dict[str, User]) -> None:
    until = None if case.permanent or case.measure != "suspend_account" else case.decided_at + dt.timedelta(days=30)
    data = DecisionInput(action=case.measure, reason="基準に該当するため" if case.clause else "該当しない",
                         clause_id=case.clause, facts="投稿の内容を確認", suspension_until=until,
                         requester_reason=None if case.clause else "削除基準に該当しないと判断したため",
                         suspension_permanent=case.permanent)
    case_service.claim_case(runtime.db, case.case_id, staff[case.decided_by], now=case.decided_at)
    case.decision_id = decision_service.record_decision(runtime.db, case.case_id, staff[case.decided_by], data,
                                               now=case.decided_at).id


def appeal(runtime, case: PlannedCase, staff: dict[str, User]) -> None:
    submitted = case.decided_at + dt.timedelta(days=1)
    filed = audit_service.submit_appeal(runtime.db, decision_id=case.decision_id, appellant_id=case.author_id,
                                        reason="規約違反ではありません", appeal_id=str(uuid.uuid4()), now=submitted)
    if case.appeal != "open":
        audit_service.review_appeal(runtime.db, filed.id, staff["supervisor"], outcome=case.appeal,
                                    reason="再審査の結果", now=submitted + dt.timedelta(days=2))
