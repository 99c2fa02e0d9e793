"""Decision rules read clause by clause: a referred case is decided by a 専門員 (§24,
§25(2)(ii)); prompts and holds that the law asks for (§26(3), §15/§16). SQLite and PostgreSQL."""
import datetime as dt

import pytest
import sqlalchemy as sa

from services.decision import service
from services.decision.domain import DecisionInput, DecisionRefused
from services.decision.models import User
from tests.integration.test_decision_http import open_case

UTC = dt.timezone.utc


def staff(runtime, role):
    with runtime.db.sessions() as s:
        return s.scalar(sa.select(User).where(User.email == f"{role}@example.jp"))


@pytest.mark.parametrize("role", ["moderator", "supervisor"])
def test_after_a_referral_only_a_specialist_decides(decision, role):
    open_case(decision)
    service.record_decision(decision.db, "case-1", staff(decision, "moderator"),
                            DecisionInput(action="refer_specialist", reason="専門的判断が必要"))
    with pytest.raises(DecisionRefused) as refused:
        service.record_decision(decision.db, "case-1", staff(decision, role),
                                DecisionInput(action="remove", reason="x", clause_id="D-1"))
    assert refused.value.status == 403
    decided = service.record_decision(decision.db, "case-1", staff(decision, "specialist"),
                                      DecisionInput(action="remove", reason="x", clause_id="D-1"))
    assert decided.specialist_reviewed is True


def test_no_action_on_a_request_needs_a_reason_written_for_the_requester(decision):
    import json

    from services.decision.models import Outbox

    open_case(decision)
    with pytest.raises(DecisionRefused) as refused:
        service.record_decision(decision.db, "case-1", staff(decision, "moderator"),
                                DecisionInput(action="no_action", reason="内部メモ"))
    assert refused.value.field == "requester_reason"
    service.record_decision(decision.db, "case-1", staff(decision, "moderator"), DecisionInput(
        action="no_action", reason="内部メモ", requester_reason="公共の利害に関する論評の範囲内です"))
    with decision.db.sessions() as s:
        (row,) = s.scalars(sa.select(Outbox).where(Outbox.event_type.like("%decision.recorded%"))).all()
    data = json.loads(row.payload)["data"]
    assert data["requester_reason"] == "公共の利害に関する論評の範囲内です" and data["reason"] == "内部メモ"
