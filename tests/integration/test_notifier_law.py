"""Notifier rules read clause by clause: §27(ii) only for 同様の情報, the §25(1) proviso only
for 同一の内容の申出, and notice states that are what they say (§25(2), delivery, reach).
SQLite and PostgreSQL."""
import datetime as dt

import pytest

from services.notifier.models import TrackedRequest
from tests.support.helpers import report_body
from tests.integration.test_notifier_rules import all_notices, exceptions, notifier  # noqa: F401 (fixture)
from tests.integration.test_notifier_service import decision_event, feed

UTC = dt.timezone.utc


def on_post(post_id, text, author="u-poster"):
    post = {**report_body(post_id=post_id)["post"], "text": text, "author_id": author}
    return {"post": post, "poster": {"id": author}}


def n4s(runtime):
    return [n for n in all_notices(runtime) if n.notice_type == "N4"]


# --- §27(ii): 同様の情報 ------------------------------------------------------------------------

def test_a_second_different_post_of_the_same_poster_gets_its_own_n4(notifier):
    feed(notifier, decision_event([], **on_post("p-1", "店長は横領している")))
    feed(notifier, decision_event([], **on_post("p-2", "あの会社の製品は毒が入っている")))
    assert len(n4s(notifier)) == 2 and not exceptions(notifier)


def test_a_near_identical_copy_on_another_post_is_27_ii(notifier):
    feed(notifier, decision_event([], **on_post("p-1", "店長は横領している！")))
    feed(notifier, decision_event([], **on_post("p-2", "店長は 横領 している!!")))
    assert len(n4s(notifier)) == 1
    (exc,) = exceptions(notifier)
    assert exc.reason_code == "already_notified_similar"


def test_unknown_author_is_never_one_person(notifier):
    feed(notifier, decision_event([], **on_post("p-1", "同じ文面", author="unknown")))
    feed(notifier, decision_event([], **on_post("p-1", "同じ文面", author="unknown")))
    assert len(n4s(notifier)) == 2 and not exceptions(notifier)


# --- §25(1) proviso: 同一の内容の申出 -------------------------------------------------------------

def test_the_repeat_ack_promises_no_notice_of_its_own_and_names_the_earlier_request(notifier):
    from tests.integration.test_notifier_rules import notice_of
    from tests.integration.test_notifier_service import request_event

    first = request_event(received_at=dt.datetime.now(UTC) - dt.timedelta(days=1))
    repeat = request_event(is_repeat=True)
    feed(notifier, first, repeat)
    acks = {n.request_id: n.body["text_ja"] for n in all_notices(notifier) if n.notice_type == "ACK"}
    assert "までに、削除などの措置を講じたかどうかをお知らせします" in acks[first.data["report_id"]]
    repeat_ack = acks[repeat.data["report_id"]]
    assert "までに、削除などの措置を講じたかどうかをお知らせします" not in repeat_ack
    assert first.data["report_id"] in repeat_ack and "第25条第1項ただし書" in repeat_ack


def test_a_repeat_links_to_the_earlier_request_for_the_same_right(notifier):
    from tests.integration.test_notifier_service import request_event

    other_right = request_event(received_at=dt.datetime.now(UTC) - dt.timedelta(days=2))
    other_right.data["right_infringed"] = "プライバシー"
    same_right = request_event(received_at=dt.datetime.now(UTC) - dt.timedelta(days=1))
    repeat = request_event(is_repeat=True)
    feed(notifier, other_right, same_right, repeat)
    (exc,) = [e for e in exceptions(notifier) if e.reason_code == "repeat_request"]
    assert same_right.data["report_id"] in exc.detail and other_right.data["report_id"] not in exc.detail


# --- notice states that are what they say ---------------------------------------------------

def alerts(runtime, name):
    from tests.integration.test_notifier_service import outbox

    return [e for e in outbox(runtime) if e.type.endswith("alert.v1") and e.data["alert"] == name]


def test_an_interim_notice_after_the_deadline_raises_an_alert(notifier):
    from tests.integration.test_notifier_service import request_event

    late = request_event(received_at=dt.datetime.now(UTC) - dt.timedelta(days=9))
    feed(notifier, late, decision_event([late], action="delay_other", clause=None, reason="調査中",
                                        requester_reason="確認に時間を要しています"))
    assert [n for n in all_notices(notifier) if n.notice_type == "N3"]
    (alert,) = alerts(notifier, "s25_interim_after_deadline")
    assert alert.data["request_id"] == late.data["report_id"]


def test_a_final_notice_that_never_arrived_does_not_count_as_notified(notifier, monkeypatch):
    from services.notifier.service import check_deadlines
    from services.notifier.stats import notice_stats
    from tests.integration.test_notifier_rules import notice_of, receipt
    from tests.integration.test_notifier_service import request_event

    monkeypatch.setenv("MODQ_NOTICE_MAX_FAILURES", "2")
    req = request_event(received_at=dt.datetime.now(UTC) - dt.timedelta(days=8))
    feed(notifier, req, decision_event([req]))
    n1 = notice_of(notifier, "N1")
    feed(notifier, receipt(n1.notice_id, "failed"))
    feed(notifier, receipt(n1.notice_id, "failed", at=dt.datetime.now(UTC) + dt.timedelta(seconds=1)))
    with notifier.db.sessions() as s:
        assert s.get(TrackedRequest, req.data["report_id"]).final_notice_at is None
        assert not [r for r in notice_stats(s, None, None)["notices"] if r["notice_type"] == "N1"]
    assert check_deadlines(notifier.db) == 1  # the clock watches it again: overdue


def test_an_unreachable_requester_is_recorded_as_not_notified(notifier):
    from services.notifier.stats import notice_stats
    from tests.integration.test_notifier_rules import notice_of, receipt
    from tests.integration.test_notifier_service import request_event

    req = request_event()
    feed(notifier, req, decision_event([req]))
    n1 = notice_of(notifier, "N1")
    feed(notifier, receipt(n1.notice_id, "unreachable", detail="mail bounced"))
    (exc,) = [e for e in exceptions(notifier) if e.related_notice_id == n1.notice_id]
    assert exc.fallback is None and "正当な理由" in exc.legal_basis
    with notifier.db.sessions() as s:
        tracked = s.get(TrackedRequest, req.data["report_id"])
        assert tracked.final_notice_at is None and tracked.exception_id == exc.id
        assert not [r for r in notice_stats(s, None, None)["notices"] if r["notice_type"] == "N1"]


# --- wording --------------------------------------------------------------------------------------

def test_japanese_texts_cite_articles_the_japanese_way(notifier):
    from tests.integration.test_notifier_service import request_event

    req = request_event()
    feed(notifier, req, decision_event([req], action="refer_specialist", clause=None), decision_event([req]))
    for notice in all_notices(notifier):
        assert "§" not in notice.body["text_ja"] and "§" not in notice.legal_basis, notice.notice_type
        assert "第2025.1版" not in notice.body["text_ja"]
    n3 = next(n for n in all_notices(notifier) if n.notice_type == "N3")
    assert "第25条第2項第2号" in n3.body["text_ja"]


def test_the_inquiry_gives_the_reply_date_and_channel_and_claims_no_request_where_none_was(notifier, monkeypatch):
    monkeypatch.setenv("MODQ_INQUIRY_REPLY_CHANNEL", "https://sns.example.jp/reply")
    feed(notifier, decision_event([], action="poster_inquiry", clause=None, facts="通報された投稿の表現を確認中",
                                  reason="内部メモ"))
    (inq,) = [n for n in all_notices(notifier) if n.notice_type == "INQ"]
    text = inq.body["text_ja"]
    assert inq.status == "sent" and "https://sns.example.jp/reply" in text and "まで" in text
    assert "削除の申出がありました" not in text and "侵害されたとする権利" not in text
    assert "内部メモ" not in text


def test_the_inquiry_shows_the_requesters_right_not_the_moderators_facts(notifier):
    from tests.integration.test_notifier_service import request_event

    req = request_event()
    feed(notifier, req, decision_event([req], action="poster_inquiry", clause=None, facts="モデレーターの認定"))
    (inq,) = [n for n in all_notices(notifier) if n.notice_type == "INQ"]
    assert "侵害されたとする権利：名誉権" in inq.body["text_ja"] and "モデレーターの認定" not in inq.body["text_ja"]


def test_n4_says_how_and_until_when_to_object(notifier, monkeypatch):
    monkeypatch.setenv("MODQ_APPEAL_URL", "https://sns.example.jp/help/appeal")
    feed(notifier, decision_event([]))
    (n4,) = n4s(notifier)
    assert "https://sns.example.jp/help/appeal" in n4.body["text_ja"] and "までに" in n4.body["text_ja"]


def test_requesters_are_told_when_the_measure_they_asked_for_is_lifted(notifier):
    from tests.integration.test_notifier_service import request_event

    req = request_event()
    original = decision_event([req])
    feed(notifier, req, original)
    reversal = decision_event([req], action="remove", clause=None, reason="異議を認め取消し", measure=None,
                              final=True, reverses=original.data["decision_id"])
    reversal.data["action"] = "reversal"
    feed(notifier, reversal)
    (revr,) = [n for n in all_notices(notifier) if n.notice_type == "REVR"]
    assert revr.recipient_id == req.data["reporter"]["id"] and revr.request_id == req.data["report_id"]
    assert "取り消しました" in revr.body["text_ja"] and req.data["report_id"] in revr.body["text_ja"]


def test_the_moderators_note_never_goes_into_n2_or_n3(notifier):
    from tests.integration.test_notifier_service import request_event

    a, b = request_event(), request_event(reporter_id="u-2", post_id="p-1")
    feed(notifier, a, b, decision_event([a], action="delay_other", clause=None, reason="内部メモA",
                                        requester_reason="確認に時間を要しています"),
         decision_event([b], action="no_action", clause=None, reason="内部メモB"))
    texts = {n.notice_type: n for n in all_notices(notifier)}
    assert "確認に時間を要しています" in texts["N3"].body["text_ja"] and "内部メモA" not in texts["N3"].body["text_ja"]
    assert texts["N2"].status == "held"  # no reason written for the requester: held, never the note
