import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from shared import clock

JST = ZoneInfo("Asia/Tokyo")


def jst(*args):
    return dt.datetime(*args, tzinfo=JST)


def test_law_guide_example_afternoon_receipt():
    due = clock.s25_deadline(jst(2025, 6, 2, 15, 0))
    assert due.astimezone(JST) == jst(2025, 6, 9, 23, 59, 59, 999999)
    assert due.tzinfo == dt.timezone.utc


def test_receipt_exactly_at_midnight_counts_that_day():
    assert clock.s25_deadline(jst(2025, 6, 2, 0, 0, 0)).astimezone(JST) == jst(2025, 6, 8, 23, 59, 59, 999999)


def test_one_microsecond_after_midnight_does_not_count_that_day():
    assert clock.s25_deadline(jst(2025, 6, 2, 0, 0, 0, 1)).astimezone(JST) == jst(2025, 6, 9, 23, 59, 59, 999999)


def test_receipt_at_235959_jst():
    assert clock.s25_deadline(jst(2025, 6, 2, 23, 59, 59)).astimezone(JST) == jst(2025, 6, 9, 23, 59, 59, 999999)


def test_utc_instant_is_counted_on_the_tokyo_calendar():
    # 2025-06-01 16:30 UTC is 2025-06-02 01:30 JST
    received = dt.datetime(2025, 6, 1, 16, 30, tzinfo=dt.timezone.utc)
    assert clock.s25_deadline(received).astimezone(JST).date() == dt.date(2025, 6, 9)


@pytest.mark.parametrize("received,due", [
    (jst(2025, 1, 28, 10, 0), dt.date(2025, 2, 4)),     # across a month end
    (jst(2024, 2, 25, 10, 0), dt.date(2024, 3, 3)),     # leap year February
    (jst(2025, 12, 28, 10, 0), dt.date(2026, 1, 4)),    # across the year end
    (jst(2025, 12, 31, 23, 59, 59), dt.date(2026, 1, 7)),
])
def test_month_and_year_ends(received, due):
    assert clock.s25_deadline(received).astimezone(JST).date() == due


def test_inquiry_window_is_two_days_for_election_and_av(monkeypatch):
    delivered = jst(2025, 6, 2, 15, 0)
    assert clock.inquiry_deadline(delivered, "ordinary").astimezone(JST).date() == dt.date(2025, 6, 9)
    assert clock.inquiry_deadline(delivered, "election").astimezone(JST).date() == dt.date(2025, 6, 4)
    assert clock.inquiry_deadline(delivered, "av_performer").astimezone(JST).date() == dt.date(2025, 6, 4)


def test_days_are_configuration(monkeypatch):
    monkeypatch.setenv("MODQ_S25_NOTICE_DAYS", "14")
    assert clock.s25_deadline(jst(2025, 6, 2, 15, 0)).astimezone(JST).date() == dt.date(2025, 6, 16)


def test_naive_start_is_refused():
    with pytest.raises(ValueError):
        clock.period_end(dt.datetime(2025, 6, 2), 7)


def test_jst_text():
    assert clock.jst_text(jst(2025, 6, 2, 15, 0, 5)) == "2025年6月2日 15時00分05秒（日本時間）"
