"""Notifier rules: exceptions recorded instead of notices (§25(1) proviso, §27 (i)–(iii)),
poster inquiries and their reply deadline from delivery, delivery retries with backoff and
escalation, and the counts for the §28 report."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from shared.events import ALERT, INQUIRY_DELIVERED, NOTICE_RECEIPT, make_event
from services.notifier import delivery
from services.notifier.models import Notice, NoticeException, Outbox, TrackedRequest
from services.notifier.stats import notice_stats
from tests.support.databases import make_runtime
from tests.support.helpers import due_today_jst
from tests.integration.test_notifier_service import decision_event, feed, outbox, request_event

UTC = dt.timezone.utc
JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def notifier(db_url):
    return make_runtime("notifier", db_url)


def all_notices(runtime):
    with runtime.db.sessions() as s:
        return list(s.scalars(sa.select(Notice).order_by(Notice.issued_at)))


def exceptions(runtime):
    with runtime.db.sessions() as s:
        return list(s.scalars(sa.select(NoticeException)))


def receipt(notice_id, status, at=None, detail=None):
    return make_event(NOTICE_RECEIPT, source="/sns", subject="case-1", data={
        "notice_id": notice_id, "status": status, "at": (at or dt.datetime.now(UTC)).isoformat(), "detail": detail})


def notice_of(runtime, notice_type):
    return next(n for n in all_notices(runtime) if n.notice_type == notice_type)


# --- §25(1) proviso -----------------------------------------------------------------------------

def test_repeat_request_gets_an_ack_but_no_final_notice_and_links_to_the_earlier_one(notifier):
    first = request_event(received_at=dt.datetime.now(UTC) - dt.timedelta(days=1))
    repeat = request_event(is_repeat=True)
    feed(notifier, first, repeat, decision_event([first, repeat]))
    kinds = sorted((n.notice_type, n.request_id) for n in all_notices(notifier) if n.notice_type != "N4")
    assert kinds == sorted([("ACK", first.data["report_id"]), ("ACK", repeat.data["report_id"]),
                            ("N1", first.data["report_id"])])
    (exc,) = exceptions(notifier)
    n1 = notice_of(notifier, "N1")
    assert (exc.reason_code, exc.notice_type, exc.request_id) == ("repeat_request", "N1/N2", repeat.data["report_id"])
    assert exc.related_notice_id == n1.notice_id and exc.legal_basis == "第25条第1項ただし書"


def test_repeat_request_is_not_watched_by_the_clock(notifier):
    from services.notifier.service import check_deadlines

    first = request_event(received_at=due_today_jst())
    repeat = request_event(received_at=due_today_jst(hour=13), is_repeat=True)
    feed(notifier, first, repeat)
    assert check_deadlines(notifier.db) == 1  # only the original request is due


def test_decision_arriving_before_the_request_event_still_tracks_the_request(notifier):
    req = request_event()
    feed(notifier, decision_event([req]))
    feed(notifier, req)  # the request event arrives late (another topic)
    with notifier.db.sessions() as s:
        tracked = s.get(TrackedRequest, req.data["report_id"])
        assert tracked.final_notice_at is not None and tracked.post_id == "p-1"
    assert sorted(n.notice_type for n in all_notices(notifier)) == ["ACK", "N1", "N4"]


# --- §27 exceptions ------------------------------------------------------------------------------

def test_own_post_measure_records_27_i_instead_of_n4(notifier):
    req = request_event()
    feed(notifier, req, decision_event([req], clause=None, exception_code="own_post"))
    assert "N4" not in {n.notice_type for n in all_notices(notifier)}
    (exc,) = exceptions(notifier)
    assert (exc.notice_type, exc.reason_code, exc.legal_basis) == ("N4", "own_post", "第27条ただし書第1号")


def test_legal_duty_is_a_26_exception_and_still_notifies_the_poster(notifier):
    feed(notifier, decision_event([], clause=None, exception_code="legal_duty"))
    n4 = notice_of(notifier, "N4")
    assert n4.status == "sent" and "法令上の義務" in n4.body["text_ja"]


def test_same_poster_same_clause_same_measure_is_27_ii_linked_to_the_earlier_notice(notifier):
    feed(notifier, decision_event([]))
    earlier = notice_of(notifier, "N4")
    feed(notifier, decision_event([]))                      # same poster, clause D-1, remove
    feed(notifier, decision_event([], action="hide"))       # another measure: notified
    feed(notifier, decision_event([], clause={**decision_event([]).data["clause"], "id": "D-2"}))
    n4s = [n for n in all_notices(notifier) if n.notice_type == "N4"]
    assert len(n4s) == 3
    (exc,) = exceptions(notifier)
    assert exc.reason_code == "already_notified_similar" and exc.related_notice_id == earlier.notice_id
    assert exc.legal_basis == "第27条ただし書第2号"


def test_similar_notice_rule_has_a_window_and_can_be_turned_off(notifier, monkeypatch):
    monkeypatch.setenv("MODQ_S27_SIMILAR_DAYS", "0")
    feed(notifier, decision_event([]), decision_event([]))
    assert sum(n.notice_type == "N4" for n in all_notices(notifier)) == 2 and not exceptions(notifier)


def test_unreachable_poster_records_27_iii_with_the_placeholder_fallback(notifier):
    feed(notifier, decision_event([]))
    n4 = notice_of(notifier, "N4")
    feed(notifier, receipt(n4.notice_id, "unreachable", detail="account deleted"))
    (exc,) = exceptions(notifier)
    assert (exc.reason_code, exc.legal_basis, exc.fallback) == ("recipient_unreachable", "第27条ただし書第3号",
                                                                "placeholder")
    assert exc.related_notice_id == n4.notice_id and "account deleted" in exc.detail


def test_decision_saying_the_poster_is_gone_records_27_iii(notifier):
    feed(notifier, decision_event([], exception_code="poster_account_deleted"))
    (exc,) = exceptions(notifier)
    assert exc.reason_code == "poster_account_deleted" and exc.legal_basis == "第27条ただし書第3号"


# --- poster inquiries ----------------------------------------------------------------------------

@pytest.mark.parametrize("request_type,days,delivered,deadline", [
    ("ordinary", 7, dt.datetime(2025, 6, 2, 15, 0, tzinfo=JST), dt.datetime(2025, 6, 9, 23, 59, 59, 999999, tzinfo=JST)),
    ("election", 2, dt.datetime(2025, 6, 2, 15, 0, tzinfo=JST), dt.datetime(2025, 6, 4, 23, 59, 59, 999999, tzinfo=JST)),
    ("av_performer", 2, dt.datetime(2025, 12, 31, 0, 0, tzinfo=JST), dt.datetime(2026, 1, 1, 23, 59, 59, 999999, tzinfo=JST)),
])
def test_inquiry_content_and_reply_deadline_from_delivery(notifier, request_type, days, delivered, deadline):
    req = request_event(request_type=request_type)
    feed(notifier, req, decision_event([req], action="poster_inquiry", clause=None, reason="名誉毀損の申出"))
    inq = notice_of(notifier, "INQ")
    text = inq.body["text_ja"]
    for expected in ("https://sns.example.jp/posts/1", "お前なんか消えろ", "名誉権", "中傷", f"{days}日以内"):
        assert expected in text
    feed(notifier, receipt(inq.notice_id, "delivered", at=delivered))
    inq = notice_of(notifier, "INQ")
    assert inq.status == "delivered" and inq.reply_deadline_at == deadline.astimezone(UTC)
    (event,) = [e for e in outbox(notifier) if e.type == INQUIRY_DELIVERED.name]
    assert event.data["reply_deadline_at"] == deadline.astimezone(UTC).isoformat()
    assert event.data["measure_allowed_from"] == (deadline + dt.timedelta(microseconds=1)).astimezone(UTC).isoformat()
    assert event.data["reply_days"] == days and event.data["decision_id"] == inq.decision_id


def test_mixed_request_types_give_the_poster_the_longer_window(notifier):
    a, b = request_event(request_type="election"), request_event(request_type="ordinary", reporter_id="u-2")
    feed(notifier, a, b, decision_event([a, b], action="poster_inquiry", clause=None))
    assert "7日以内" in notice_of(notifier, "INQ").body["text_ja"]


# --- delivery tracking ----------------------------------------------------------------------------

def unpublished(runtime):
    with runtime.db.sessions() as s:
        return {o.event_id for o in s.scalars(sa.select(Outbox).where(Outbox.published_at.is_(None)))}


def mark_all_published(runtime):
    with runtime.db.sessions() as s:
        s.execute(sa.update(Outbox).values(published_at=dt.datetime.now(UTC)))
        s.commit()


def test_failed_delivery_is_retried_after_a_backoff_then_escalated(notifier, monkeypatch):
    monkeypatch.setenv("MODQ_NOTICE_RETRY_BASE_SECONDS", "60")
    monkeypatch.setenv("MODQ_NOTICE_MAX_FAILURES", "3")
    req = request_event()
    feed(notifier, req)
    ack = notice_of(notifier, "ACK")
    mark_all_published(notifier)
    start = dt.datetime.now(UTC)
    feed(notifier, receipt(ack.notice_id, "failed"))
    assert delivery.republish_due(notifier.db, start) == 0 and ack.notice_id not in unpublished(notifier)
    assert delivery.republish_due(notifier.db, start + dt.timedelta(seconds=61)) == 1
    assert ack.notice_id in unpublished(notifier)         # the same id goes out again
    mark_all_published(notifier)
    feed(notifier, receipt(ack.notice_id, "failed"))       # second failure: 120 s backoff
    assert delivery.republish_due(notifier.db, start + dt.timedelta(seconds=100)) == 0
    assert delivery.republish_due(notifier.db, start + dt.timedelta(seconds=200)) == 1
    feed(notifier, receipt(ack.notice_id, "failed"))       # third failure: give up and alert
    assert delivery.republish_due(notifier.db, start + dt.timedelta(days=1)) == 0
    ack = notice_of(notifier, "ACK")
    assert (ack.status, ack.failures, ack.attempts) == ("failed", 3, 3) and ack.escalated_at is not None
    alerts = [e for e in outbox(notifier) if e.type == ALERT.name]
    assert [a.data["alert"] for a in alerts] == ["notice_undeliverable"]


def test_a_late_failure_does_not_undo_a_delivery(notifier):
    req = request_event()
    feed(notifier, req)
    ack = notice_of(notifier, "ACK")
    feed(notifier, receipt(ack.notice_id, "delivered"), )
    feed(notifier, receipt(ack.notice_id, "failed"))
    assert notice_of(notifier, "ACK").status == "delivered"


def test_held_final_notice_does_not_stop_the_clock_and_goes_out_when_complete(notifier):
    from services.notifier.service import check_deadlines

    req = request_event(received_at=due_today_jst())
    feed(notifier, req, decision_event([req], action="no_action", clause=None, reason=""))
    assert notice_of(notifier, "N2").status == "held"
    assert check_deadlines(notifier.db) == 1
    feed(notifier, decision_event([req], action="no_action", clause=None, reason="x",
                                  requester_reason="公益性が高い論評のため"))
    n2 = notice_of(notifier, "N2")
    assert n2.status == "sent" and "公益性" in n2.body["text_ja"]
    assert n2.notice_id in {e.id for e in outbox(notifier)}


# --- §28 counts ----------------------------------------------------------------------------------

def test_stats_count_notices_and_exceptions_by_type_and_reason(notifier):
    a, b = request_event(), request_event(is_repeat=True)
    feed(notifier, a, b, decision_event([a], action="refer_specialist", clause=None),
         decision_event([a, b]), decision_event([], clause=None, exception_code="own_post"))
    with notifier.db.sessions() as s:
        stats = notice_stats(s, None, None)
        empty = notice_stats(s, dt.datetime(2000, 1, 1, tzinfo=UTC), dt.datetime(2001, 1, 1, tzinfo=UTC))
    counts = {(r["notice_type"], r["measure"], r["delay_item"]): r["count"] for r in stats["notices"]}
    assert counts == {("ACK", None, None): 2, ("N3", None, "ii"): 1, ("N1", "remove", None): 1,
                      ("N4", "remove", None): 1}
    reasons = {(r["notice_type"], r["reason_code"]): r["count"] for r in stats["exceptions"]}
    assert reasons == {("N1/N2", "repeat_request"): 1, ("N4", "own_post"): 1}
    assert empty["notices"] == [] and empty["exceptions"] == []
