"""Decision rules read clause by clause: a referred case is decided by a 専門員 (§24,
§25(2)(ii)); prompts and holds that the law asks for (§26(3), §15/§16). SQLite and PostgreSQL."""
import datetime as dt

import pytest
import sqlalchemy as sa

from services.decision.criteria import service as criteria_service
from services.decision.decisions.domain import DecisionInput
from services.decision.errors import DecisionRefused
from services.decision.users.models import User
from tests.integration.test_decision_http import decide, open_case

UTC = dt.timezone.utc


def staff(runtime, role):
    with runtime.db.sessions() as s:
        return s.scalar(sa.select(User).where(User.email == f"{role}@example.jp"))


@pytest.mark.parametrize("role", ["moderator", "supervisor"])
def test_after_a_referral_only_a_specialist_decides(decision, role):
    open_case(decision)
    decide(decision, "case-1", staff(decision, "moderator"),
           DecisionInput(action="refer_specialist", reason="専門的判断が必要"))
    with pytest.raises(DecisionRefused) as refused:
        decide(decision, "case-1", staff(decision, role),
               DecisionInput(action="remove", reason="x", clause_id="D-1"))
    assert refused.value.status == 403
    decided = decide(decision, "case-1", staff(decision, "specialist"),
                     DecisionInput(action="remove", reason="x", clause_id="D-1"))
    assert decided.specialist_reviewed is True


def test_no_action_on_a_request_needs_a_reason_written_for_the_requester(decision):
    import json

    from services.decision.models import Outbox

    open_case(decision)
    with pytest.raises(DecisionRefused) as refused:
        decide(decision, "case-1", staff(decision, "moderator"),
               DecisionInput(action="no_action", reason="内部メモ"))
    assert refused.value.field == "requester_reason"
    decide(decision, "case-1", staff(decision, "moderator"), DecisionInput(
        action="no_action", reason="内部メモ", requester_reason="公共の利害に関する論評の範囲内です"))
    with decision.db.sessions() as s:
        (row,) = s.scalars(sa.select(Outbox).where(Outbox.event_type.like("%decision.recorded%"))).all()
    data = json.loads(row.payload)["data"]
    assert data["requester_reason"] == "公共の利害に関する論評の範囲内です" and data["reason"] == "内部メモ"


# --- §24: the specialist roster -------------------------------------------------------------------

def test_a_referral_needs_an_appointed_specialist_and_only_one_on_the_roster_decides(decision):
    from services.decision.users import specialists

    open_case(decision)
    specialist = staff(decision, "specialist")
    with decision.db.unit_of_work() as uow:
        specialists.end_appointment(uow.session, uow.session.get(User, specialist.id), by="admin")
        uow.commit()
    with pytest.raises(DecisionRefused) as refused:
        decide(decision, "case-1", staff(decision, "moderator"),
               DecisionInput(action="refer_specialist", reason="専門的判断が必要"))
    assert refused.value.status == 409
    with decision.db.unit_of_work() as uow:
        specialists.appoint_specialist(uow.session, uow.session.get(User, specialist.id), by="admin")
        uow.commit()
    decide(decision, "case-1", staff(decision, "moderator"),
           DecisionInput(action="refer_specialist", reason="専門的判断が必要"))
    with decision.db.unit_of_work() as uow:
        specialists.end_appointment(uow.session, uow.session.get(User, specialist.id), by="admin")
        uow.commit()
    with pytest.raises(DecisionRefused):  # a specialist role alone is not an appointment
        decide(decision, "case-1", staff(decision, "specialist"),
               DecisionInput(action="remove", reason="x", clause_id="D-1"))


# --- §26(3): amend the criteria after an urgent, unforeseen measure ---------------------------------

def test_an_urgent_unforeseen_measure_prompts_the_admin_until_a_new_version_is_published(decision):
    from services.decision.app import create_app
    from services.decision.criteria import amendments
    from tests.integration.test_decision_http import signed_in

    open_case(decision)
    decide(decision, "case-1", staff(decision, "moderator"), DecisionInput(
        action="remove", reason="新しい手口の詐欺", exception_code="urgent_unforeseen", facts="新型の詐欺リンク"))
    app = create_app(decision)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    page = signed_in(app, "admin").get("/admin/criteria").get_data(as_text=True)
    assert "第26条第3項" in page and "新型の詐欺リンク" in page
    with decision.db.unit_of_work() as uow:
        criteria_service.draft_criteria_version(uow.session, "2026.2", "admin")
        criteria_service.publish_criteria(uow.session, "2026.2", "admin")
        uow.commit()
    with decision.db.sessions() as s:
        assert amendments.amendments_due(s) == []
    assert "第26条第3項" not in signed_in(app, "admin").get("/admin/criteria").get_data(as_text=True)


# --- §15/§16: legal holds and retention -------------------------------------------------------------

def test_retention_erases_old_evidence_but_never_under_a_legal_hold(decision, monkeypatch):
    from services.decision.cases import retention
    from services.decision.audit.models import AuditEvent
    from services.decision.cases.models import Case, LegalHold

    monkeypatch.setenv("MODQ_RETENTION_POST_DAYS", "30")
    for case_id in ("held", "free"):
        open_case(decision, case_id=case_id)
        decide(decision, case_id, staff(decision, "moderator"),
               DecisionInput(action="remove", reason="x", clause_id="D-1"))
    with decision.db.unit_of_work() as uow:
        hold = retention.place_hold(uow.session, "held", basis="s16_erasure_ban",
                                    reference="東京地裁 令和8年(モ)第1号", by="legal@example.jp")
        uow.commit()
        hold_id = hold.id
    later = dt.datetime.now(UTC) + dt.timedelta(days=31)
    assert retention.apply_retention(decision.db, now=later)["posts"] == 1
    with decision.db.sessions() as s:
        assert s.get(Case, "held").post["text"] and s.get(Case, "held").post_removed_at is None
        free = s.get(Case, "free")
        assert free.post["text"] == "" and free.post["removed"] and free.post["url"] and free.post_removed_at
    with decision.db.unit_of_work() as uow:
        with pytest.raises(DecisionRefused):
            retention.lift_hold(uow.session, hold_id, reason="", by="legal@example.jp")
        retention.lift_hold(uow.session, hold_id, reason="事件の終了", by="legal2@example.jp")
        uow.commit()
    with decision.db.sessions() as s:
        lifted = s.get(LegalHold, hold_id)
        assert (lifted.placed_by, lifted.lifted_by) == ("legal@example.jp", "legal2@example.jp")
        assert {"legal_hold.placed", "legal_hold.lifted"} <= set(s.scalars(
            sa.select(AuditEvent.event_type).where(AuditEvent.case_id == "held")))
    assert retention.apply_retention(decision.db, now=later)["posts"] == 1
