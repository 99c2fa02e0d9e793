"""Pure rules of cases and the queue (services/decision/cases/domain.py)."""
from __future__ import annotations

import datetime as dt

import pytest

from services.decision.cases import domain

NOW = dt.datetime(2025, 6, 2, 3, 0, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(hours=24)


def priority(**overrides) -> float:
    values = {"score": None, "categories": None, "reporter_count": 0, "has_request": False,
              "next_deadline_at": None, "now": NOW, "warning": DAY, **overrides}
    return domain.compute_priority(**values)


def test_top_category_ignores_none_and_empty():
    assert domain.top_category(None) is None
    assert domain.top_category({}) is None
    assert domain.top_category({"none": 0.9}) is None
    assert domain.top_category({"none": 0.9, "insult": 0.2, "threat": 0.3}) == "threat"


@pytest.mark.parametrize("left, expected", [
    (None, 0.0), (dt.timedelta(hours=-1), 1.0), (DAY, 1.0), (dt.timedelta(days=7), 0.0),
    (dt.timedelta(days=8), 0.0), (DAY + (dt.timedelta(days=7) - DAY) / 2, 0.5),
])
def test_deadline_urgency_is_full_inside_the_window_and_falls_to_zero_at_seven_days(left, expected):
    deadline = None if left is None else NOW + left
    assert domain.deadline_urgency(deadline, NOW, DAY) == pytest.approx(expected)


def test_near_deadline_follows_the_window_it_is_given():
    deadline = NOW + dt.timedelta(hours=30)
    assert not domain.is_near_deadline(deadline, NOW, DAY)
    assert domain.is_near_deadline(deadline, NOW, dt.timedelta(hours=48))
    assert domain.is_near_deadline(NOW - dt.timedelta(seconds=1), NOW, DAY)  # past is near too
    assert not domain.is_near_deadline(None, NOW, DAY)


def test_priority_parts_add_up():
    assert priority() == 0.0
    assert priority(score=1.0) == 40.0
    assert priority(has_request=True) == 10.0
    assert priority(reporter_count=32) == pytest.approx(10.0)
    assert priority(reporter_count=1) == pytest.approx(2.0, abs=0.02)  # logarithmic: 1 → about 2
    assert priority(score=0.9, categories={"insult": 0.9}) == pytest.approx(36 + 9)
    assert priority(score=0.9, categories={"threat": 0.9}) == pytest.approx(36 + 15 + domain.THREAT_LIFT)
    assert priority(next_deadline_at=NOW + dt.timedelta(days=7)) == 0.0


def test_a_credible_threat_is_lifted_and_a_doubtful_one_is_not():
    credible = priority(score=0.85, categories={"threat": 0.85})
    doubtful = priority(score=0.85, categories={"threat": 0.6, "insult": 0.25})
    much_reported_insult = priority(score=0.95, categories={"insult": 0.95}, reporter_count=32)
    assert credible > much_reported_insult > doubtful
    parts = domain.priority_parts(score=0.85, categories={"threat": 0.85}, reporter_count=0, has_request=False,
                                  next_deadline_at=None, now=NOW, warning=DAY)
    assert parts["threat"] == domain.THREAT_LIFT and sum(parts.values()) == pytest.approx(credible)


def test_a_case_at_risk_sits_above_every_case_that_is_not():
    at_risk = priority(next_deadline_at=NOW + dt.timedelta(hours=23))
    highest_not_at_risk = priority(score=1.0, categories={"threat": 1.0}, reporter_count=1000, has_request=True,
                                   next_deadline_at=NOW + DAY + dt.timedelta(seconds=1))
    assert highest_not_at_risk <= 100.0 < at_risk
    assert at_risk == pytest.approx(125.0)


def test_report_route():
    assert domain.report_route("deletion_request", "someone") == "request"
    assert domain.report_route("report", domain.OWN_DETECTION_REPORTER["id"]) == "own_detection"
    assert domain.report_route("report", "user-1") == "report"
