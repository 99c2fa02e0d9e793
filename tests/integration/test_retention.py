"""Personal data leaves the decision service after its retention period; a legal hold keeps it."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from services.decision.cases import retention
from services.decision.cases import service as case_service
from services.decision.decisions import service as decision_service
from services.decision.decisions.domain import DecisionInput
from services.decision.audit.models import AuditEvent
from services.decision.cases.models import Case, CaseReport
from services.decision.decisions.models import Decision
from tests.integration.test_decision_service import feed, received, user

UTC = dt.timezone.utc


def decided_case(runtime, case_id: str, days_ago: float) -> None:
    feed(runtime, received(case_id=case_id))
    when = dt.datetime.now(UTC) - dt.timedelta(days=days_ago)
    mod = user(runtime, "moderator")
    case_service.claim_case(runtime.db, case_id, mod, now=when)
    decision_service.record_decision(runtime.db, case_id, mod, DecisionInput(action="remove", reason="名誉毀損", clause_id="D-1"),
                            now=when)


def test_requester_data_and_the_post_copy_go_after_their_periods_unless_held(decision, monkeypatch):
    monkeypatch.setenv("MODQ_RETENTION_REQUESTER_DAYS", "30")
    monkeypatch.setenv("MODQ_RETENTION_POST_DAYS", "90")
    decided_case(decision, "old", 100)
    decided_case(decision, "middle", 60)
    decided_case(decision, "held", 100)
    decided_case(decision, "recent", 5)
    with decision.db.unit_of_work() as uow:
        hold = retention.place_hold(uow.session, "held", basis="s16_erasure_ban", reference="裁判所の保全命令",
                                    by="cli:legal")
        uow.commit()
        hold_id = hold.id
    assert retention.apply_retention(decision.db) == {"requester_data": 2, "posts": 1}
    assert retention.apply_retention(decision.db) == {"requester_data": 0, "posts": 0}  # once
    with decision.db.sessions() as s:
        reports = {r.case_id: r for r in s.scalars(sa.select(CaseReport))}
        cases = {c.id: c for c in s.scalars(sa.select(Case))}
        for gone in ("old", "middle"):
            assert reports[gone].reporter == {"id": reports[gone].reporter_id, "removed": True}
            assert reports[gone].reason is None
        for kept in ("held", "recent"):
            assert reports[kept].reporter.get("contact") and reports[kept].reason
        assert cases["old"].post["text"] == "" and cases["old"].post["url"]
        assert cases["middle"].post["text"] and cases["held"].post["text"]
        assert s.scalar(sa.select(sa.func.count()).select_from(Decision)) == 4  # decisions stay
        types = [e.event_type for e in s.scalars(sa.select(AuditEvent).where(AuditEvent.case_id == "old"))]
        assert "retention.requester_data_removed" in types and "retention.post_removed" in types
    with decision.db.unit_of_work() as uow:
        retention.lift_hold(uow.session, hold_id, reason="命令の取消し", by="cli:legal")
        uow.commit()
    assert retention.apply_retention(decision.db) == {"requester_data": 1, "posts": 1}


def test_ended_web_sessions_are_deleted(decision):
    from services.decision.users import signin
    from services.decision.users.models import WebSession

    old = signin.open_web_session(decision.db, user(decision, "moderator"),
                                  now=dt.datetime.now(UTC) - dt.timedelta(days=3))
    live = signin.open_web_session(decision.db, user(decision, "moderator"))
    retention.apply_retention(decision.db)
    with decision.db.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(WebSession)) == 1
        assert signin.web_session_user(s, live) is not None and signin.web_session_user(s, old) is None


def test_intake_keeps_a_persons_data_only_for_its_period(tmp_path, monkeypatch):
    from services.intake import retention as intake_retention
    from services.intake.models import Report
    from tests.integration.test_intake_form import filled, make_client

    client, runtime = make_client(f"sqlite:///{tmp_path / 'intake.db'}", monkeypatch)
    assert client.post("/request", data=filled(client)).status_code == 200
    assert intake_retention.apply_retention(runtime.db) == 0
    later = dt.datetime.now(UTC) + dt.timedelta(days=91)
    assert intake_retention.apply_retention(runtime.db, now=later) == 1
    assert intake_retention.apply_retention(runtime.db, now=later) == 0
    with runtime.db.sessions() as s:
        report = s.scalar(sa.select(Report))
    assert report.reporter == {"id": report.reporter_id, "removed": True} and report.reason is None
    assert report.post["url"] and report.evidence_sha256


def test_the_notifier_forgets_contacts_of_settled_notices_after_its_period(db_url):
    from shared.events import NOTICE_RECEIPT, make_event
    from services.notifier import retention as notifier_retention
    from services.notifier.models import Notice, TrackedRequest
    from tests.conftest import make_runtime
    from tests.integration.test_notifier_service import decision_event, feed, notices, request_event

    notifier = make_runtime("notifier", db_url)
    req = request_event()
    feed(notifier, req, decision_event([req]))
    by_type, _ = notices(notifier)
    feed(notifier, make_event(NOTICE_RECEIPT, source="/sns", subject="case-1", data={
        "notice_id": by_type["ACK"].notice_id, "status": "delivered", "at": dt.datetime.now(UTC).isoformat()}))
    assert notifier_retention.apply_retention(notifier.db) == {"notices": 0, "requests": 0}
    later = dt.datetime.now(UTC) + dt.timedelta(days=3 * 365 + 1)
    counts = notifier_retention.apply_retention(notifier.db, now=later)
    assert counts == {"notices": 1, "requests": 1}
    with notifier.db.sessions() as s:
        ack = s.get(Notice, by_type["ACK"].notice_id)
        assert ack.body["recipient"] == {"id": ack.recipient_id} and ack.body["text_ja"]
        assert s.get(Notice, by_type["N1"].notice_id).body["recipient"].get("contact")  # not delivered yet
        assert s.scalar(sa.select(TrackedRequest)).requester.get("removed") is True
