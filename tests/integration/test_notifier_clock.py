"""The notifier's §25 clock at its edges: receipt at 00:00:00 and 23:59:59 JST, across month,
leap-day and year ends; the warning window (MODQ_S25_WARNING_HOURS) to the microsecond; the
overdue alert; N3 stopping the clock; the gauges."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from shared.events import ALERT
from services.notifier import deadlines
from services.notifier.models import Notice, TrackedRequest
from services.notifier.service import check_deadlines
from tests.support.databases import make_runtime
from tests.integration.test_notifier_service import decision_event, feed, outbox, request_event

UTC = dt.timezone.utc
JST = ZoneInfo("Asia/Tokyo")
US = dt.timedelta(microseconds=1)


def jst(*args):
    return dt.datetime(*args, tzinfo=JST)


@pytest.fixture
def notifier(db_url):
    return make_runtime("notifier", db_url)


EDGES = [
    (jst(2025, 6, 2, 0, 0, 0), jst(2025, 6, 8, 23, 59, 59, 999999)),        # 00:00:00 counts that day
    (jst(2025, 6, 2, 23, 59, 59), jst(2025, 6, 9, 23, 59, 59, 999999)),     # 23:59:59 does not
    (jst(2025, 1, 31, 12, 0), jst(2025, 2, 7, 23, 59, 59, 999999)),         # across a month end
    (jst(2025, 4, 30, 0, 0, 0), jst(2025, 5, 6, 23, 59, 59, 999999)),       # midnight on the last day of a month
    (jst(2028, 2, 29, 0, 0, 0), jst(2028, 3, 6, 23, 59, 59, 999999)),       # leap day at midnight
    (jst(2025, 12, 31, 0, 0, 0), jst(2026, 1, 6, 23, 59, 59, 999999)),      # year end at midnight
    (jst(2025, 12, 31, 23, 59, 59), jst(2026, 1, 7, 23, 59, 59, 999999)),   # year end, last second
    (dt.datetime(2025, 12, 31, 15, 0, tzinfo=UTC), jst(2026, 1, 7, 23, 59, 59, 999999)),  # 2026-01-01 00:00 JST
]


def alerts(runtime):
    return [e.data for e in outbox(runtime) if e.type == ALERT.name]


def tracked(runtime, report_id):
    with runtime.db.sessions() as s:
        return s.get(TrackedRequest, report_id)


@pytest.mark.parametrize("received,due", EDGES)
def test_deadline_and_ack_text_at_the_edges(notifier, received, due):
    req = request_event(received_at=received)
    feed(notifier, req)
    assert tracked(notifier, req.data["report_id"]).deadline_at == due.astimezone(UTC)
    with notifier.db.sessions() as s:
        ack = s.scalar(sa.select(Notice))
    assert f"{due.year}年{due.month}月{due.day}日 23時59分59秒（日本時間）までに" in ack.body["text_ja"]


@pytest.mark.parametrize("received,due", EDGES)
def test_warning_starts_exactly_24_hours_before_and_overdue_exactly_after(notifier, received, due):
    req = request_event(received_at=received)
    feed(notifier, req)
    window = dt.timedelta(hours=24)
    assert check_deadlines(notifier.db, now=due - window - US) == 0
    assert check_deadlines(notifier.db, now=due - window) == 1
    assert check_deadlines(notifier.db, now=due) == 0           # still "near", already raised
    assert check_deadlines(notifier.db, now=due + US) == 1      # now overdue: one more alert
    assert check_deadlines(notifier.db, now=due + dt.timedelta(days=3)) == 0
    assert [a["alert"] for a in alerts(notifier)] == ["s25_deadline_near", "s25_deadline_overdue"]
    assert all(a["request_id"] == req.data["report_id"] for a in alerts(notifier))


def test_warning_window_is_configuration(notifier, monkeypatch):
    received, due = EDGES[0]
    feed(notifier, request_event(received_at=received))
    monkeypatch.setenv("MODQ_S25_WARNING_HOURS", "48")
    assert check_deadlines(notifier.db, now=due - dt.timedelta(hours=48)) == 1


@pytest.mark.parametrize("step", ["poster_inquiry", "refer_specialist", "delay_other"])
def test_an_interim_notice_before_the_deadline_stops_the_warnings(notifier, step):
    received, due = EDGES[6]
    req = request_event(received_at=received)
    feed(notifier, req, decision_event([req], action=step, clause=None, reason="確認に時間を要するため",
                                       requester_reason="確認に時間を要するため"))
    assert check_deadlines(notifier.db, now=due - dt.timedelta(hours=1)) == 0
    assert check_deadlines(notifier.db, now=due + dt.timedelta(days=1)) == 0


def test_final_notice_stops_the_warnings(notifier):
    received, due = EDGES[1]
    req = request_event(received_at=received)
    feed(notifier, req, decision_event([req], action="no_action", clause=None, reason="違法性が認められないため",
                                       requester_reason="違法性が認められないため"))
    assert check_deadlines(notifier.db, now=due + dt.timedelta(days=1)) == 0


def test_gauges_show_near_and_overdue_requests(notifier):
    (r1, d1), (r2, d2) = EDGES[0], EDGES[1]   # due 06-08 and 06-09 (JST)
    feed(notifier, request_event(received_at=r1), request_event(received_at=r2, reporter_id="u-2"))
    check_deadlines(notifier.db, now=d1 + US)
    assert deadlines.OVERDUE._value.get() == 1 and deadlines.NEAR_DEADLINE._value.get() == 1


def test_a_later_stated_deadline_does_not_extend_the_clock(notifier):
    received, due = EDGES[0]
    req = request_event(received_at=received)
    req.data["deadline_at"] = (due + dt.timedelta(days=1)).isoformat()
    feed(notifier, req)
    assert tracked(notifier, req.data["report_id"]).deadline_at == due.astimezone(UTC)
