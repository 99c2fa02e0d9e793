"""Statutory clocks on the Asia/Tokyo calendar (Civil Code §140–142), stored in UTC.

A period of N days starting at an instant that is not exactly 00:00 local time begins the
next day (the first day is not counted) and ends at 24:00 of its last day. A period that
starts exactly at 00:00:00 counts that day. So a §25 request received Mon 2025-06-02 15:00
JST is due Mon 2025-06-09 23:59:59.999999 JST, and one received at 00:00:00 on 06-02 is due
at the end of 06-08. Days and zone are configuration (the law may change; see law.md [U]).
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from shared.settings import env, env_float, env_int

UTC = dt.timezone.utc


def legal_zone() -> ZoneInfo:
    return ZoneInfo(env("MODQ_LEGAL_TIMEZONE", "Asia/Tokyo"))


def notice_days() -> int:
    """§25(1) with ordinance §16: 7 days."""
    return env_int("MODQ_S25_NOTICE_DAYS", 7)


def warning_window() -> dt.timedelta:
    """How long before a §25 deadline a request still owed a notice counts as near it: the
    notifier raises its alert then, and the decision queue puts the case first and marks it."""
    return dt.timedelta(hours=env_float("MODQ_S25_WARNING_HOURS", 24.0))


def inquiry_days(request_type: str = "ordinary") -> int:
    """§3(2)(ii): 7 days for the poster to object; 2 days for election material (§4) and
    adult-video performers' requests (AV law §16)."""
    if request_type in ("election", "av_performer"):
        return env_int("MODQ_INQUIRY_DAYS_SHORT", 2)
    return env_int("MODQ_INQUIRY_DAYS", 7)


SHORT_WINDOW_TYPES = ("election", "av_performer")


def qualifies_for_short_window(request_type: str | None, right_infringed: str | None) -> bool:
    """Whether a request really is one the 2-day window serves. §4 covers only the 名誉 of a
    公職の候補者等 (election material at a candidate's request); AV law §16 covers a performer's
    request about their own appearance. A request type alone is the requester's own choice."""
    right = (right_infringed or "").strip()
    if request_type == "election":
        return "名誉" in right
    if request_type == "av_performer":
        return bool(right)
    return False


def inquiry_request_type(requests) -> str:
    """The one rule for the poster's reply window: 2 days only when every request on the
    post qualifies for it (and all are of the same kind); otherwise 7. ``requests`` are
    (request_type, right_infringed) pairs."""
    pairs = [(t or "ordinary", r) for t, r in requests]
    types = {t for t, _ in pairs}
    if len(types) == 1 and all(qualifies_for_short_window(t, r) for t, r in pairs):
        return types.pop()
    return "ordinary"


def period_end(start: dt.datetime, days: int, zone: ZoneInfo | None = None) -> dt.datetime:
    """The last instant of a period of ``days`` days that starts at ``start`` (aware)."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    zone = zone or legal_zone()
    local = start.astimezone(zone)
    first_counted = local.date() if local.timetz().replace(tzinfo=None) == dt.time(0) else local.date() + dt.timedelta(days=1)
    last_day = first_counted + dt.timedelta(days=days - 1)
    end_local = dt.datetime.combine(last_day, dt.time(23, 59, 59, 999999), tzinfo=zone)
    return end_local.astimezone(UTC)


def s25_deadline(received_at: dt.datetime) -> dt.datetime:
    return period_end(received_at, notice_days())


def inquiry_deadline(delivered_at: dt.datetime, request_type: str = "ordinary") -> dt.datetime:
    return period_end(delivered_at, inquiry_days(request_type))


def criteria_notice_days() -> int:
    """§26: criteria must be published at least this many days before a measure relies on them."""
    return env_int("MODQ_CRITERIA_NOTICE_DAYS", 14)


def criteria_in_force_from(published_at: dt.datetime) -> dt.datetime:
    """The first instant at which criteria published at ``published_at`` may ground a measure:
    the 14 days are whole days on the legal calendar, the day of publication not counted
    (Civil Code §140) unless it was published at exactly 00:00. Published 06-01 10:00 JST →
    06-02 to 06-15 → usable from 06-16 00:00 JST; published 06-01 00:00 → from 06-15 00:00."""
    return period_end(published_at, criteria_notice_days()) + dt.timedelta(microseconds=1)


def to_jst_iso(instant: dt.datetime) -> str:
    return instant.astimezone(legal_zone()).isoformat(timespec="seconds")


def jst_text(instant: dt.datetime) -> str:
    """Japanese rendering for notices and pages: 2025年6月2日 15時00分00秒 (日本時間)."""
    local = instant.astimezone(legal_zone())
    return f"{local.year}年{local.month}月{local.day}日 {local.hour:02d}時{local.minute:02d}分{local.second:02d}秒（日本時間）"


def parse_instant(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp needs a UTC offset")
    return parsed.astimezone(UTC)
