"""The §28 report: every figure equals a count made independently from the events the test fed
(SQLite and PostgreSQL)."""
import datetime as dt
import json
import math
from collections import Counter

import pytest
import sqlalchemy as sa

from shared import clock

from services.decision.audit import periods, render, transparency
from tests.integration import audit_scenario as scenario

MEASURES = ("remove", "hide", "suspend_account")
FROM, TO = "2025-04-01", "2026-03-31"
NOW = dt.datetime(2026, 4, 10, tzinfo=dt.timezone.utc)


def notifier_stats(decision, cases, tmp_path) -> dict:
    """The notice figures as the notifier (their owner) counts them, from the very events the
    decision service and intake published."""
    from shared.events import parse_event
    from services.decision.models import Outbox
    from services.notifier import service as notifier_service
    from services.notifier.stats import notice_stats
    from tests.conftest import make_runtime

    notifier = make_runtime("notifier", f"sqlite:///{tmp_path / 'notifier.db'}")
    received = [scenario.received_event(c, r) for c in cases for r in c.reports]
    with decision.db.sessions() as s:
        decided = [parse_event(o.payload) for o in s.scalars(sa.select(Outbox).order_by(Outbox.seq))
                   if o.event_type.endswith("decision.recorded.v1")]
    notifier_service.handle_events(notifier.db, [parse_event(e.to_json()) for e in received])
    notifier_service.handle_events(notifier.db, decided)
    with notifier.db.sessions() as s:
        return notice_stats(s, None, None)


@pytest.fixture
def year(decision, tmp_path):
    cases = scenario.plan()
    scenario.run(decision, cases)
    start, end = periods.resolve(FROM, TO, NOW)
    stats = notifier_stats(decision, cases, tmp_path)
    with decision.db.sessions() as s:
        report = transparency.generate(s, start, end, now=NOW, notice_stats=stats)
    return cases, report


def counts(items) -> dict:
    return dict(sorted(Counter(items).items()))


def test_report_figures_equal_counts_made_from_the_events(year):
    """One generated year (building it is the slow part), every section checked."""
    for check in (check_requests_and_reports_received, check_measures_by_route_suspensions_and_ai,
                  check_s25_notices_from_the_notifier,
                  check_timeliness_time_to_decision_and_monthly_volumes, check_appeals_and_reversals_with_ai_share,
                  check_html_has_charts_and_csv_has_one_figure_per_row):
        check(year)


def check_requests_and_reports_received(year):
    cases, report = year
    reports = [r for c in cases for r in c.reports]
    requests = [r for r in reports if r.kind == "deletion_request"]
    assert report["requests"]["total"] == len(requests)
    assert report["requests"]["by_right_infringed"] == counts(r.right for r in requests)
    assert report["requests"]["repeat"] == sum(r.is_repeat for r in requests)
    assert report["user_reports"]["total"] == sum(r.kind == "report" for r in reports)
    assert report["own_detection"]["total"] == sum(r.kind == "own" for r in reports)


def check_measures_by_route_suspensions_and_ai(year):
    cases, report = year
    measured = [c for c in cases if c.measure in MEASURES]
    assert report["measures"]["total"] == len(measured)
    assert report["measures"]["by_measure"] == counts(c.measure for c in measured)
    for route, key in (("report", "measures_on_user_reports"), ("own_detection", "measures_on_own_detection")):
        on_route = [c for c in measured if c.route == route]
        assert report[key]["total"] == len(on_route)
        assert report[key].get("by_measure", {}) == counts(c.measure for c in on_route)
    suspended = [c for c in measured if c.measure == "suspend_account"]
    assert report["account_suspensions"]["total"] == len(suspended)
    assert report["account_suspensions"].get("by_clause", {}) == counts(c.clause for c in suspended)
    assert report["account_suspensions"].get("by_duration", {}) == counts(
        "permanent" if c.permanent else "temporary" for c in suspended)
    assert report["ai"]["measures_with_ai"]["total"] == sum(c.scored for c in measured)
    assert report["s27_notices"]["N4"]["total"] == len(measured)
    assert report["s27_notices"]["inquiries_s3_2_ii"] == sum(c.step == "poster_inquiry" for c in cases)


def check_s25_notices_from_the_notifier(year):
    cases, report = year
    fresh = lambda c: [r for c in [c] for r in c.requests if not r.is_repeat]  # noqa: E731
    n1 = [r for c in cases if c.measure in MEASURES for r in fresh(c)]
    n2 = [r for c in cases if c.measure == "no_action" for r in fresh(c)]
    n3 = [(c.step, r) for c in cases if c.step for r in fresh(c)]
    notices = report["s25_notices"]
    assert notices["N1"]["total"] == len(n1) and notices["N2"]["total"] == len(n2)
    assert notices["N1"].get("by_measure", {}) == counts(c.measure for c in cases if c.measure in MEASURES
                                                          for _ in fresh(c))
    assert notices["N3"]["total"] == len(n3)
    assert notices["N3"].get("by_item", {}) == counts(scenario.STEPS[step] for step, _ in n3)
    # a repeat request gets no final notice of its own (§25(1) proviso), recorded once per repeat
    repeats = sum(r.is_repeat for c in cases for r in c.requests)
    assert notices["not_sent"]["by_reason"].get("repeat_request", 0) == repeats
    assert report["derived"] == []
    steps = [c for c in cases if c.step]
    assert report["s25_2_extensions"]["total"] == len(steps)
    assert report["s25_2_extensions"].get("by_item", {}) == counts(scenario.STEPS[c.step] for c in steps)
    not_taken = [c for c in cases if c.measure == "no_action"]
    assert report["measures_not_taken"]["on_user_reports"] == sum(c.route == "report" for c in not_taken)
    assert report["measures_not_taken"]["on_own_detection"] == sum(c.route == "own_detection" for c in not_taken)


def check_timeliness_time_to_decision_and_monthly_volumes(year):
    cases, report = year
    answered = total = 0
    for c in cases:
        first_answer = c.step_at or c.decided_at
        for r in c.requests:
            if r.is_repeat:
                continue
            total += 1
            answered += first_answer is not None and first_answer <= clock.s25_deadline(r.received_at)
    timely = report["s25_timeliness"]
    assert (timely["total"], timely["answered_within_deadline"], timely["pending"]) == (total, answered, 0)
    assert timely["answered_within_deadline_share"] == round(answered / total, 4)

    hours = sorted((c.decided_at - min(r.received_at for r in c.reports)).total_seconds() / 3600
                   for c in cases if c.measure)
    ttd = report["time_to_decision"]
    assert ttd["count"] == len(hours)
    assert ttd["percentiles"]["p50"] == round(hours[math.ceil(0.5 * len(hours)) - 1], 3)
    assert sum(b["count"] for b in ttd["histogram"]) == len(hours)

    month = lambda t: t.astimezone(clock.legal_zone()).strftime("%Y-%m")  # noqa: E731
    by_month = {row["month"]: row for row in report["monthly"]}
    assert len(report["monthly"]) == 12
    expected_requests = counts(month(r.received_at) for c in cases for r in c.requests)
    assert {m: row["requests"] for m, row in by_month.items() if row["requests"]} == expected_requests
    expected_measures = counts(month(c.decided_at) for c in cases if c.measure in MEASURES)
    assert {m: row["measures"] for m, row in by_month.items() if row["measures"]} == expected_measures


def check_appeals_and_reversals_with_ai_share(year):
    cases, report = year
    appealed = [c for c in cases if c.appeal]
    reversed_ = [c for c in appealed if c.appeal == "reversed"]
    appeals = report["appeals"]
    assert appeals["submitted"] == len(appealed) and len(reversed_) > 0
    assert (appeals["upheld"], appeals["reversed"], appeals["pending"]) == (
        sum(c.appeal == "upheld" for c in appealed), len(reversed_), sum(c.appeal == "open" for c in appealed))
    assert appeals["reversals"] == len(reversed_)
    assert appeals["reversals_of_ai_assisted"] == sum(c.scored for c in reversed_)
    # a reversal is not a measure: the measures still count the original decisions
    assert report["measures"]["total"] == sum(c.measure in MEASURES for c in cases)


def test_operator_fields_are_null_with_a_note_unless_configured(tmp_path, monkeypatch):
    monkeypatch.delenv("MODQ_TRANSPARENCY_OPERATOR_FILE", raising=False)
    assert set(transparency.operator_fields().values()) == {None} and transparency.NOTES["operator"]
    path = tmp_path / "operator.json"
    path.write_text(json.dumps({"japanese_reviewers": 12, "self_evaluation": "概ね適切"}), encoding="utf-8")
    monkeypatch.setenv("MODQ_TRANSPARENCY_OPERATOR_FILE", str(path))
    assert transparency.operator_fields()["japanese_reviewers"] == 12


def check_html_has_charts_and_csv_has_one_figure_per_row(year):
    _, report = year
    page = render.html(report)
    assert page.count("<svg") == 2 and "判断までの時間" in page and "<script" not in page
    text = render.csv_text(report, bom=True)
    assert text.startswith("\ufeff項目,値")
    assert f"measures.total,{report['measures']['total']}" in text


@pytest.mark.parametrize("now,first,last", [
    (dt.datetime(2026, 3, 31, 16, 0, tzinfo=dt.timezone.utc), "2025-04-01", "2026-04-01"),   # 4/1 01:00 JST
    (dt.datetime(2026, 5, 31, 14, 59, tzinfo=dt.timezone.utc), "2025-04-01", "2026-04-01"),  # 5/31 23:59 JST
    (dt.datetime(2026, 5, 31, 15, 0, tzinfo=dt.timezone.utc), "2026-04-01", "2027-04-01"),   # 6/1 00:00 JST
    (dt.datetime(2026, 3, 31, 14, 0, tzinfo=dt.timezone.utc), "2025-04-01", "2026-04-01"),   # 3/31 23:00 JST
])
def test_default_period_is_the_year_a_report_is_due_for(now, first, last):
    """Until 31 May the report due is the April–March year just ended (§28); then the year in progress."""
    start, end = periods.resolve(None, None, now)
    assert clock.to_jst_iso(start) == f"{first}T00:00:00+09:00"
    assert clock.to_jst_iso(end) == f"{last}T00:00:00+09:00"


def test_without_the_notifier_the_notice_figures_are_missing_not_guessed(decision):
    start, end = periods.resolve(FROM, TO, NOW)
    with decision.db.sessions() as s:
        report = transparency.generate(s, start, end, now=NOW)
    assert report["s25_notices"] is None and report["s27_notices"] is None
    assert report["notes"]["notices_missing"]
    assert "通知サービスから集計を取得できなかった" in render.html(report)


def test_requests_from_public_bodies_and_courts_are_counted_apart(decision):
    from tests.integration.test_inquiry_window import feed, request

    court = request("c-court", "court-1", "ordinary")
    court.data["reporter"]["requester_type"] = "court"
    feed(decision, court, request("c-person", "p-1", "ordinary"))
    now = dt.datetime.now(dt.timezone.utc)
    with decision.db.sessions() as s:
        report = transparency.generate(s, now - dt.timedelta(days=1), now + dt.timedelta(days=1), now=now)
    assert report["requests"]["by_requester_type"] == {"court": 1, "person": 1}
