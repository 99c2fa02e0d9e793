"""The decision projection applies a batch's reports and scores together (one case read and
update per batch, audit entries chained under one lock): the case figures must equal those of
applying the same events one at a time and those of a full recount (SQLite and PostgreSQL)."""
import datetime as dt
import json
import random
import uuid

import sqlalchemy as sa

from shared.clock import s25_deadline
from shared.events import REPORT_RECEIVED, REPORT_SCORED, make_event, parse_event
from services.decision import handlers
from services.decision.audit import chain
from services.decision.audit.models import AuditEvent
from services.decision.cases import projection
from services.decision.cases.models import Case
from services.decision.models import ParkedEvent

UTC = dt.timezone.utc
FIGURES = ("report_count", "reporter_count", "request_count", "next_deadline_at", "score", "categories",
           "model_version", "top_category", "reason_categories", "priority", "status")


def storm(case_id: str, count: int, seed: int) -> list:
    """``count`` reports on one post (reporters repeat, one in three a deletion request) and
    their scores in mixed order: most after their report, some before it, a few a batch early."""
    rng = random.Random(seed)
    old = dt.datetime.now(UTC) - dt.timedelta(days=2)
    post = {"id": f"p-{case_id}", "url": "https://sns.example.jp/posts/1", "author_id": "u-poster",
            "text": "お前なんか消えろ", "posted_at": old.isoformat()}
    keyed = []
    for i in range(count):
        kind = "deletion_request" if i % 3 == 0 else "report"
        at = old + dt.timedelta(minutes=i)
        report_id = str(uuid.uuid4())
        report = make_event(REPORT_RECEIVED, source="/t", subject=case_id, data={
            "report_id": report_id, "case_id": case_id, "kind": kind, "treated_as": kind,
            "received_at": at.isoformat(), "deadline_at": s25_deadline(at).isoformat() if kind != "report" else None,
            "post": post, "reporter": {"id": f"r{i % 11}", "is_rights_holder": kind != "report", "contact": "mail:r@example.jp"},
            "reason": "嫌がらせ", "right_infringed": "名誉権" if kind != "report" else None,
            "reason_category": None if kind != "report" else ["insult", "spam", "privacy"][i % 3]})
        score = round(rng.random(), 4)
        scored = make_event(REPORT_SCORED, source="/t", subject=case_id, data={
            "report_id": report_id, "case_id": case_id, "score": score,
            "categories": {"insult": score, "threat": round(score / 3, 4), "none": round(1 - score, 4)},
            "model_version": "tiny-1", "scored_at": at.isoformat()})
        keyed += [(i, report), (i + rng.uniform(-25, 25), scored)]
    return [parse_event(env.to_json()) for _, env in sorted(keyed, key=lambda pair: pair[0])]


def figures(runtime, case_id: str, recount: bool = False) -> dict:
    with runtime.db.unit_of_work() as uow:
        case = uow.session.get(Case, case_id)
        if recount:
            projection.refresh_case(case, uow.session, case.updated_at)
        return {name: getattr(case, name) for name in FIGURES}


def audit_facts(runtime, case_id: str) -> list[tuple[str, str]]:
    with runtime.db.sessions() as s:
        return sorted((e.event_type, json.loads(e.payload)["report_id"]) for e in s.scalars(
            sa.select(AuditEvent).where(AuditEvent.case_id == case_id)))


def test_a_batch_of_reports_and_scores_gives_the_figures_of_one_by_one(decision):
    batched, alone = storm("hot-batched", 150, seed=3), storm("hot-alone", 150, seed=3)
    for i in range(0, len(batched), 64):
        handlers.handle_events(decision.db, batched[i:i + 64])
    for env in alone:
        handlers.handle_events(decision.db, [env])
    projection.resolve_pending_scores(decision.db, dt.timedelta(hours=1))

    result = figures(decision, "hot-batched")
    one_by_one = figures(decision, "hot-alone")
    same = {name: (result[name], one_by_one[name]) for name in FIGURES if name != "priority"}
    assert all(a == b for a, b in same.values()), same
    assert result == figures(decision, "hot-batched", recount=True)
    assert one_by_one == figures(decision, "hot-alone", recount=True)
    assert (result["report_count"], result["reporter_count"], result["request_count"]) == (150, 11, 50)
    # Every report keeps its own audit entries, the chain stays verifiable.
    reports = {env.data["report_id"] for env in batched if env.type == REPORT_RECEIVED.name}
    facts = audit_facts(decision, "hot-batched")
    assert facts == sorted([("report.received", r) for r in reports] + [("report.scored", r) for r in reports])
    with decision.db.sessions() as s:
        assert chain.verify_chain(s)["intact"] is True
        assert s.scalar(sa.select(sa.func.count()).select_from(ParkedEvent)
                        .where(ParkedEvent.state == "pending")) == 0


def test_a_replayed_batch_changes_nothing(decision):
    events = storm("hot-replay", 60, seed=5)
    handlers.handle_events(decision.db, events)
    before = figures(decision, "hot-replay")
    with decision.db.sessions() as s:
        entries = s.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    handlers.handle_events(decision.db, events)
    handlers.handle_events(decision.db, events[:30] + events[:30])  # the same event twice in one batch
    assert figures(decision, "hot-replay") == before
    with decision.db.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == entries
        assert chain.verify_chain(s)["intact"] is True
