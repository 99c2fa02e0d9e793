"""Reporting periods on the Asia/Tokyo calendar (§28 years run April to March)."""
from __future__ import annotations

import datetime as dt

from shared import clock


class BadPeriod(ValueError):
    """A ``from``/``to`` value that is neither a date nor an instant with an offset."""


def jst_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=clock.legal_zone()).astimezone(clock.UTC)


def parse_bound(value: str | None, *, end: bool) -> dt.datetime | None:
    """A date (YYYY-MM-DD, a whole JST day, ``to`` inclusive) or an instant with an offset
    (``to`` exclusive). Returns the UTC instant the period starts at or ends before."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return jst_midnight(day + dt.timedelta(days=1) if end else day)
        return clock.parse_instant(value)
    except ValueError as exc:
        raise BadPeriod(f"{value!r}: 日付（YYYY-MM-DD）またはオフセット付きの日時を指定してください ({exc})") from None


def fiscal_year_of(day: dt.date) -> tuple[dt.date, dt.date]:
    """The April–March year containing ``day`` (first and last day)."""
    first_year = day.year if day.month >= 4 else day.year - 1
    return dt.date(first_year, 4, 1), dt.date(first_year + 1, 3, 31)


def report_year(today: dt.date) -> tuple[dt.date, dt.date]:
    """The §28 year a report is about by default: until 31 May (the publication deadline) the
    year that ended on 31 March; from June on, the year in progress."""
    first, last = fiscal_year_of(today)
    if today.month in (4, 5):
        return fiscal_year_of(first - dt.timedelta(days=1))
    return first, last


def resolve(start: str | None, end: str | None, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The period asked for; a missing bound falls back to the §28 year a report is due for
    (``report_year``: before 31 May, the year just ended)."""
    first, last = report_year(now.astimezone(clock.legal_zone()).date())
    begin = parse_bound(start, end=False) or jst_midnight(first)
    finish = parse_bound(end, end=True) or jst_midnight(last + dt.timedelta(days=1))
    if finish <= begin:
        raise BadPeriod("期間の終わりは始まりより後でなければなりません（to must be after from）")
    return begin, finish


def month_key(instant: dt.datetime) -> str:
    return instant.astimezone(clock.legal_zone()).strftime("%Y-%m")


def months(start: dt.datetime, end: dt.datetime) -> list[str]:
    """Every JST month that the period [start, end) touches, in order."""
    keys, cursor = [], start.astimezone(clock.legal_zone()).date().replace(day=1)
    last = (end - dt.timedelta(microseconds=1)).astimezone(clock.legal_zone()).date()
    while cursor <= last:
        keys.append(cursor.strftime("%Y-%m"))
        cursor = (cursor + dt.timedelta(days=32)).replace(day=1)
    return keys


def describe(start: dt.datetime, end: dt.datetime) -> dict:
    return {"from": clock.to_jst_iso(start), "to": clock.to_jst_iso(end), "to_is_exclusive": True,
            "timezone": str(clock.legal_zone())}
