"""Decision service layer: projection, priority, claims, decisions against the criteria,
and the hash-chained audit log (SQLite and PostgreSQL)."""
import datetime as dt
import json
import uuid

import pytest
import sqlalchemy as sa

from shared.events import REPORT_RECEIVED, REPORT_SCORED, make_event, parse_event
from services.decision.cases import service as case_service
from services.decision.audit import chain
from services.decision.decisions import service as decision_service
from services.decision import handlers
from services.decision.cases import projection
from services.decision.decisions.domain import DecisionInput
from services.decision.errors import DecisionRefused
from services.decision.audit.models import AuditEvent
from services.decision.cases.models import Case, CaseReport
from services.decision.criteria.models import Clause, CriteriaVersion
from services.decision.models import Outbox
from services.decision.users.models import User
from tests.support.helpers import due_today_jst, report_body

UTC = dt.timezone.utc


def user(runtime, role):
    with runtime.db.sessions() as s:
        return s.scalar(sa.select(User).where(User.email == f"{role}@example.jp"))


def received(case_id=None, kind="deletion_request", reporter="req-1", received_at=None, report_id=None):
    body = report_body(kind, rights_holder=True, reporter_id=reporter)
    received_at = received_at or dt.datetime.now(UTC)
    from shared.clock import s25_deadline

    return make_event(REPORT_RECEIVED, source="/t", subject=case_id or "case-1", data={
        "report_id": report_id or str(uuid.uuid4()), "case_id": case_id or "case-1", "kind": kind, "treated_as": kind,
        "received_at": received_at.isoformat(),
        "deadline_at": s25_deadline(received_at).isoformat() if kind == "deletion_request" else None,
        "post": body["post"], "reporter": body["reporter"], "reason": body["reason"],
        "right_infringed": body["right_infringed"]})


def scored(report_id, case_id="case-1", score=0.9):
    return make_event(REPORT_SCORED, source="/t", subject=case_id, data={
        "report_id": report_id, "case_id": case_id, "score": score,
        "categories": {"insult": score, "none": 1 - score}, "model_version": "tiny-1",
        "scored_at": dt.datetime.now(UTC).isoformat()})


def feed(runtime, *events):
    handlers.handle_events(runtime.db, [parse_event(e.to_json()) for e in events])


def test_reports_project_into_one_case_and_redelivery_changes_nothing(decision):
    a, b = received(reporter="x"), received(kind="report", reporter="y")
    score = scored(a.data["report_id"])
    feed(decision, a, b)
    feed(decision, a, b, score)
    feed(decision, score)
    with decision.db.sessions() as s:
        case = s.get(Case, "case-1")
        assert (case.report_count, case.reporter_count, case.request_count) == (2, 2, 1)
        assert case.score == 0.9 and case.model_version == "tiny-1" and case.priority > 40
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                        .where(AuditEvent.event_type == "report.scored")) == 1


def test_score_before_its_report_is_held_then_applied_when_the_report_arrives(decision):
    from services.decision.models import ParkedEvent

    a = received()
    score = scored(a.data["report_id"])
    feed(decision, score)  # no report yet: held, not an error that would stall the partition
    feed(decision, score)  # redelivered while held: still one held row
    with decision.db.sessions() as s:
        held = s.scalars(sa.select(ParkedEvent)).all()
        assert [(r.state, r.waiting_for, r.event_id) for r in held] == [
            ("pending", f"report:{a.data['report_id']}", score.id)]
        assert s.get(Case, "case-1") is None
    feed(decision, a)  # the report alone: the held score is applied in its transaction
    feed(decision, score)  # and a late copy of the score has no second effect
    with decision.db.sessions() as s:
        assert s.get(Case, "case-1").score == 0.9
        assert s.scalar(sa.select(ParkedEvent.state)) == "applied"
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                        .where(AuditEvent.event_type == "report.scored")) == 1


def test_near_deadline_case_rises_to_the_top(decision):
    old = due_today_jst()
    feed(decision, received(case_id="urgent", received_at=old, reporter="r1"))
    fresh = received(case_id="scored-high", kind="report", reporter="r2")
    feed(decision, fresh, scored(fresh.data["report_id"], case_id="scored-high", score=0.99))
    with decision.db.sessions() as s:
        order = [c.id for c in case_service.queue(s)]
        assert order[0] == "urgent"
        assert [c.id for c in case_service.queue(s, near_deadline=True)] == ["urgent"]


def test_a_case_whose_deadline_is_at_risk_is_announced_as_urgent(decision):
    from services.decision.cases import queue_view

    since = dt.datetime.now(UTC) - dt.timedelta(seconds=1)
    feed(decision, received(case_id="at-risk", received_at=due_today_jst(), reporter="r1"))
    feed(decision, received(case_id="far-off", reporter="r2"))
    with decision.db.sessions() as s:
        assert [c.id for c in queue_view.urgent_since(s, since, dt.datetime.now(UTC))] == ["at-risk"]


def test_decision_resolves_every_report_and_emits_one_event(decision):
    a, b = received(reporter="x"), received(kind="report", reporter="y")
    feed(decision, a, b)
    mod = user(decision, "moderator")
    case_service.claim_case(decision.db, "case-1", mod)
    d = decision_service.record_decision(decision.db, "case-1", mod, DecisionInput(action="remove", reason="名誉毀損に当たる",
                                                                         clause_id="D-1", facts="虚偽の事実の摘示"))
    with decision.db.sessions() as s:
        assert s.get(Case, "case-1").status == "decided"
        assert {r.status for r in s.scalars(sa.select(CaseReport))} == {"resolved"}
        events = [parse_event(o.payload) for o in s.scalars(sa.select(Outbox))]
    assert len(events) == 1 and events[0].data["decision_id"] == d.id
    data = events[0].data
    assert data["clause"]["id"] == "D-1" and data["clause"]["version"] == "2025.1" and data["clause"]["text"]
    assert {r["report_id"] for r in data["requests"]} == {a.data["report_id"], b.data["report_id"]}
    with pytest.raises(DecisionRefused, match="already decided"):
        decision_service.record_decision(decision.db, "case-1", mod, DecisionInput(action="no_action", reason="x"))


@pytest.mark.parametrize("data,message", [
    (DecisionInput(action="remove", reason="x"), "clause_id or exception_code"),
    (DecisionInput(action="remove", reason=""), "reason"),
    (DecisionInput(action="remove", reason="x", clause_id="NOPE"), "unknown clause"),
    (DecisionInput(action="suspend_account", reason="x", clause_id="T-1"), "end date or permanent"),
    (DecisionInput(action="suspend_account", reason="x", clause_id="D-1", suspension_permanent=True), "アカウント停止"),
    (DecisionInput(action="remove", reason="x", clause_id="D-1", expected_version=999), "stale"),
])
def test_bad_decisions_are_refused_and_nothing_is_recorded(decision, data, message):
    feed(decision, received())
    case_service.claim_case(decision.db, "case-1", user(decision, "moderator"))
    with pytest.raises(DecisionRefused, match=message):
        decision_service.record_decision(decision.db, "case-1", user(decision, "moderator"), data)
    with decision.db.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Outbox)) == 0
        assert s.get(Case, "case-1").status == "open"


def test_clause_published_less_than_14_days_ago_is_not_in_force(decision):
    now = dt.datetime.now(UTC)
    with decision.db.unit_of_work() as uow:
        uow.session.add(CriteriaVersion(version="2099.1", status="published", published_at=now - dt.timedelta(days=3),
                                        created_at=now))
        uow.session.flush()
        uow.session.add(Clause(version="2099.1", clause_id="NEW-1", title="新条項", text="新しい基準", routes=[],
                               measures=["remove"], examples=[]))
        uow.commit()
    feed(decision, received())
    case_service.claim_case(decision.db, "case-1", user(decision, "moderator"))
    with pytest.raises(DecisionRefused, match="14日"):
        decision_service.record_decision(decision.db, "case-1", user(decision, "moderator"),
                                DecisionInput(action="remove", reason="x", clause_id="NEW-1"))


def test_claims_are_exclusive_until_the_lease_expires(decision):
    feed(decision, received())
    mod, spec = user(decision, "moderator"), user(decision, "specialist")
    case_service.claim_case(decision.db, "case-1", mod)
    with pytest.raises(DecisionRefused, match="someone else"):
        case_service.claim_case(decision.db, "case-1", spec)
    with pytest.raises(DecisionRefused, match="someone else"):
        decision_service.record_decision(decision.db, "case-1", spec, DecisionInput(action="no_action", reason="x"))
    later = dt.datetime.now(UTC) + dt.timedelta(minutes=16)
    case_service.claim_case(decision.db, "case-1", spec, now=later)


def test_auditor_cannot_decide(decision):
    feed(decision, received())
    with pytest.raises(DecisionRefused, match="role"):
        decision_service.record_decision(decision.db, "case-1", user(decision, "auditor"),
                                DecisionInput(action="no_action", reason="x"))


def test_audit_chain_verifies_and_detects_tampering(decision):
    a = received()
    feed(decision, a, scored(a.data["report_id"]))
    case_service.claim_case(decision.db, "case-1", user(decision, "moderator"))
    decision_service.record_decision(decision.db, "case-1", user(decision, "moderator"),
                            DecisionInput(action="hide", reason="x", clause_id="P-1"))
    with decision.db.sessions() as s:
        result = chain.verify_chain(s)
        assert result["intact"] and result["checked"] >= 3
    with decision.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_events SET payload = :p WHERE seq = 2"), {"p": json.dumps({"forged": 1})})
    with decision.db.sessions() as s:
        result = chain.verify_chain(s)
        assert not result["intact"] and result["first_broken_seq"] == 2
    with decision.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_events WHERE seq = 2"))
    with decision.db.sessions() as s:
        assert chain.verify_chain(s)["first_broken_seq"] == 3


def test_held_notice_alert_marks_the_case_blocked(decision):
    from shared.events import ALERT

    feed(decision, received())
    alert = make_event(ALERT, source="/t", subject="case-1", data={
        "alert": "notice_held", "case_id": "case-1", "request_id": None, "detail": "N4 held: missing clause",
        "raised_at": dt.datetime.now(UTC).isoformat()})
    feed(decision, alert)
    feed(decision, alert)
    with decision.db.sessions() as s:
        assert s.get(Case, "case-1").notice_blocked is True
        assert case_service.queue_counts(s)["blocked_notices"] == 1
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                        .where(AuditEvent.event_type == "alert.notice_held")) == 1


def test_incremental_case_figures_match_a_full_recount(decision):
    """A storm adds reports one by one without re-reading the case; the result must equal a recount."""
    old = dt.datetime.now(UTC) - dt.timedelta(days=2)
    events = [received(reporter=f"r{i % 7}", kind="deletion_request" if i % 3 == 0 else "report",
                       received_at=old + dt.timedelta(minutes=i)) for i in range(40)]
    feed(decision, *events[:20])
    feed(decision, *events[20:], scored(events[5].data["report_id"], score=0.4),
         scored(events[30].data["report_id"], score=0.8))
    with decision.db.unit_of_work() as uow:
        case = uow.session.get(Case, "case-1")
        incremental = (case.report_count, case.reporter_count, case.request_count, case.next_deadline_at,
                       case.score, case.priority, list(case.reason_categories))
        projection.refresh_case(case, uow.session, case.updated_at)
        recount = (case.report_count, case.reporter_count, case.request_count, case.next_deadline_at,
                   case.score, case.priority, list(case.reason_categories))
    assert incremental == recount
    assert incremental[:3] == (40, 7, 14) and incremental[4] == 0.8


def test_a_decision_needs_the_deciders_claim(decision):
    feed(decision, received())
    mod = user(decision, "moderator")
    with pytest.raises(DecisionRefused, match="claim the case first") as refused:
        decision_service.record_decision(decision.db, "case-1", mod, DecisionInput(action="no_action", reason="x"))
    assert refused.value.status == 409
    with pytest.raises(DecisionRefused, match="supervisor"):
        decision_service.record_decision(decision.db, "case-1", mod,
                                DecisionInput(action="no_action", reason="x", override_claim=True))
    later = dt.datetime.now(UTC) - dt.timedelta(minutes=20)
    case_service.claim_case(decision.db, "case-1", mod, now=later)  # a lease that has run out
    with pytest.raises(DecisionRefused, match="claim the case first"):
        decision_service.record_decision(decision.db, "case-1", mod, DecisionInput(action="no_action", reason="x"))
    with decision.db.sessions() as s:
        assert s.get(Case, "case-1").status == "open"


def test_a_supervisor_overrides_a_claim_and_the_override_is_audited(decision):
    feed(decision, received())
    mod, sup = user(decision, "moderator"), user(decision, "supervisor")
    case_service.claim_case(decision.db, "case-1", mod)
    decision_service.record_decision(decision.db, "case-1", sup, DecisionInput(
        action="no_action", reason="x", requester_reason="削除の理由に当たりません", override_claim=True))
    with decision.db.sessions() as s:
        override = s.scalar(sa.select(AuditEvent).where(AuditEvent.event_type == "case.claim_overridden"))
        assert override.actor == sup.pseudonym and json.loads(override.payload) == {"claimed_by": str(mod.id)}
        assert s.get(Case, "case-1").status == "decided"


def form_request(text="", url="https://sns.example.jp/posts/42"):
    """What intake's public form sends on: the URL only, marked as the requester's word."""
    event = received()
    post = {**event.data["post"], "text": text, "url": url, "author_id": "unknown"}
    return make_event(REPORT_RECEIVED, source="/t", subject="case-1",
                      data={**event.data, "post": post, "evidence": "requester", "evidence_sha256": "f" * 64})


def test_the_sns_report_replaces_what_a_form_request_opened_the_case_with(decision):
    feed(decision, form_request(text="FORGED", url="https://evil.example/x"))
    with decision.db.sessions() as s:
        assert s.get(Case, "case-1").post_evidence == "requester"
    sns = received()
    feed(decision, sns)
    feed(decision, form_request(text="FORGED again"))  # a later form request changes nothing
    with decision.db.sessions() as s:
        case = s.get(Case, "case-1")
        assert case.post["text"] == sns.data["post"]["text"] and case.post["url"] == sns.data["post"]["url"]
        assert case.post_evidence == "sns"
        assert case.author_id == sns.data["post"]["author_id"]
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                        .where(AuditEvent.event_type == "case.evidence_from_sns")) == 1


def test_a_form_request_never_replaces_the_sns_copy(decision):
    sns = received()
    feed(decision, sns, form_request(text="FORGED"))
    with decision.db.sessions() as s:
        case = s.get(Case, "case-1")
        assert case.post["text"] == sns.data["post"]["text"] and case.post_evidence == "sns"


def test_an_assignment_ends_with_the_decision_and_a_reopened_case_goes_back_to_the_queue(decision):
    from services.decision.casework import service as casework
    from services.decision.casework.models import CaseAssignment

    feed(decision, received())
    sup, spec = user(decision, "supervisor"), user(decision, "specialist")
    with decision.db.unit_of_work() as uow:
        casework.assign(uow.session, "case-1", spec.id, sup)
        uow.commit()
    case_service.claim_case(decision.db, "case-1", spec)
    decision_service.record_decision(decision.db, "case-1", spec, DecisionInput(
        action="poster_inquiry", reason="照会する", facts="確認したい事項"))
    with decision.db.sessions() as s:  # a step is not the end of the work: the case stays with them
        assert s.get(CaseAssignment, "case-1").user_id == spec.id
    case_service.claim_case(decision.db, "case-1", spec)
    decision_service.record_decision(decision.db, "case-1", spec, DecisionInput(
        action="remove", reason="名誉毀損に当たる", clause_id="D-1"))
    with decision.db.sessions() as s:
        assert s.get(CaseAssignment, "case-1") is None
        ended = s.scalars(sa.select(AuditEvent).where(AuditEvent.event_type == "case.assignment_ended")).all()
        assert [json.loads(e.payload)["why"] for e in ended] == ["decided"]
    with decision.db.unit_of_work() as uow:  # an assignment made on the decided case ...
        casework.assign(uow.session, "case-1", spec.id, sup)
        uow.commit()
    feed(decision, received(reporter="req-2"))  # ... ends when a new report reopens it
    with decision.db.sessions() as s:
        case = s.get(Case, "case-1")
        assert case.status == "open" and s.get(CaseAssignment, "case-1") is None
        assert s.scalar(sa.select(sa.func.count()).select_from(Case).where(casework.assigned_to(spec.id))) == 0
        whys = [json.loads(e.payload)["why"] for e in s.scalars(sa.select(AuditEvent).where(
            AuditEvent.event_type == "case.assignment_ended").order_by(AuditEvent.seq))]
        assert whys == ["decided", "reopened"]
