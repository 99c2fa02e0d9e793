"""Pure rules of decisions (services/decision/decisions/domain.py)."""
from __future__ import annotations

import datetime as dt

import pytest

from services.decision.decisions import domain
from services.decision.decisions.domain import DecisionInput
from services.decision.errors import DecisionRefused

NOW = dt.datetime(2025, 6, 2, 3, 0, tzinfo=dt.timezone.utc)


def refused_field(call) -> str | None:
    with pytest.raises(DecisionRefused) as info:
        call()
    return info.value.field


def test_the_action_sets_fit_together():
    assert set(domain.RESTRICTIVE_MEASURES) < set(domain.MEASURES)
    assert "no_action" in domain.MEASURES and "no_action" not in domain.RESTRICTIVE_MEASURES
    assert set(domain.DELAY_ITEM_OF_STEP) == set(domain.STEPS)
    assert domain.ACTIONS == domain.MEASURES + domain.STEPS


@pytest.mark.parametrize("data, field", [
    (DecisionInput(action="delete", reason="x"), "measure"),
    (DecisionInput(action="no_action", reason="  "), "reason"),
    (DecisionInput(action="remove", reason="x"), "clause_id"),
    (DecisionInput(action="remove", reason="x", exception_code="whim"), "exception_code"),
    (DecisionInput(action="suspend_account", reason="x", clause_id="D-1"), "suspension_until"),
    (DecisionInput(action="suspend_account", reason="x", clause_id="D-1", suspension_until=NOW), "suspension_until"),
    (DecisionInput(action="suspend_account", reason="x", clause_id="D-1", suspension_permanent=True,
                   suspension_until=NOW + dt.timedelta(days=1)), "suspension_until"),
    (DecisionInput(action="no_action", reason="x", requester_reason="あ" * 5001), "requester_reason"),
    (DecisionInput(action="hide", reason="x", clause_id="D-1", scope={"items": [""]}), "scope.items"),
])
def test_input_refused_names_the_field(data, field):
    assert refused_field(lambda: domain.validate_input(data, NOW)) == field


@pytest.mark.parametrize("data", [
    DecisionInput(action="no_action", reason="該当しない"),
    DecisionInput(action="remove", reason="x", clause_id="D-1"),
    DecisionInput(action="hide", reason="x", exception_code="own_post", scope={"visibility": "japan_only"}),
    DecisionInput(action="suspend_account", reason="x", clause_id="D-1", suspension_permanent=True),
    DecisionInput(action="suspend_account", reason="x", clause_id="D-1", suspension_until=NOW + dt.timedelta(days=1)),
    DecisionInput(action="poster_inquiry", reason="確認"),
])
def test_valid_input_passes(data):
    domain.validate_input(data, NOW)


@pytest.mark.parametrize("scope, field", [
    ("whole", "scope"), ({"colour": "red"}, "scope"), ({"items": "m1"}, "scope.items"),
    ({"visibility": "worldwide"}, "scope.visibility"),
])
def test_scope_refused(scope, field):
    assert refused_field(lambda: domain.validate_scope(scope)) == field


def test_scope_items_must_be_media_of_the_post_and_normal_scope_fills_the_defaults():
    post = {"media": [{"id": "m1"}, {"id": "m2"}, "junk"]}
    domain.check_scope_items({"items": ["m2"]}, post)
    assert refused_field(lambda: domain.check_scope_items({"items": ["m3"]}, post)) == "scope.items"
    assert domain.normal_scope(None) == {"whole_post": True, "items": [], "visibility": None}
    assert domain.normal_scope({"items": ["m1"], "visibility": "japan_only"}) == {
        "whole_post": False, "items": ["m1"], "visibility": "japan_only"}


def test_requesters_are_owed_a_reason_for_no_measure_or_another_extension():
    no_reason = DecisionInput(action="no_action", reason="内部メモ")
    assert refused_field(lambda: domain.check_requester_reason(no_reason, open_requests=1)) == "requester_reason"
    domain.check_requester_reason(no_reason, open_requests=0)  # reports only: nobody to tell
    domain.check_requester_reason(DecisionInput(action="remove", reason="x"), open_requests=1)
    domain.check_requester_reason(DecisionInput(action="delay_other", reason="x", requester_reason="調査中"), 1)


def test_a_clause_grounds_only_its_measures_on_its_routes():
    domain.check_clause_applies("D-1", ["remove", "hide"], ["request"], "hide", {"request", "report"})
    domain.check_clause_applies("D-1", ["remove"], ["request"], "remove", set())  # no open route: any
    with pytest.raises(DecisionRefused) as wrong_measure:
        domain.check_clause_applies("D-1", ["hide"], ["request"], "remove", {"request"})
    assert wrong_measure.value.status == 422
    with pytest.raises(DecisionRefused):
        domain.check_clause_applies("D-1", ["remove"], ["request"], "remove", {"own_detection"})
