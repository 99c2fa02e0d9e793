"""Notifier: each request gets one ACK and one final notice; measures get an N4; incomplete
notices are held with an alert; the §25 clock warns before the deadline."""
import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from shared.clock import s25_deadline
from shared.events import ALERT, DECISION_RECORDED, NOTICE_RECEIPT, REPORT_RECEIVED, make_event, parse_event
from services.notifier import service
from services.notifier.models import Notice, NoticeException, Outbox, TrackedRequest
from tests.support.databases import make_runtime
from tests.support.helpers import due_today_jst, report_body

UTC = dt.timezone.utc
CLAUSE = {"id": "D-1", "version": "2025.1", "title": "名誉毀損", "text": "特定の人について…",
          "published_at": "2025-03-31T15:00:00+00:00"}


@pytest.fixture
def notifier(db_url):
    return make_runtime("notifier", db_url)


def request_event(report_id=None, received_at=None, locale="ja", *, post_id="p-1", reporter_id="u-reporter",
                  is_repeat=False, request_type="ordinary"):
    received_at = received_at or dt.datetime.now(UTC)
    body = report_body("deletion_request", rights_holder=True, post_id=post_id, reporter_id=reporter_id)
    body["reporter"]["locale"] = locale
    return make_event(REPORT_RECEIVED, source="/t", subject="case-1", data={
        "report_id": report_id or str(uuid.uuid4()), "case_id": "case-1", "kind": "deletion_request",
        "treated_as": "deletion_request", "received_at": received_at.isoformat(),
        "deadline_at": s25_deadline(received_at).isoformat(), "post": body["post"], "reporter": body["reporter"],
        "reason": body["reason"], "right_infringed": "名誉権", "is_repeat": is_repeat,
        "request_type": request_type})


def decision_event(requests, action="remove", clause=CLAUSE, reason="名誉毀損に当たるため", facts="虚偽の事実の摘示",
                   **over):
    post = report_body(post_id="p-1")["post"]
    data = {"decision_id": str(uuid.uuid4()), "case_id": "case-1", "action": action,
            "final": action in ("remove", "hide", "suspend_account", "no_action"),
            "measure": action if action in ("remove", "hide", "suspend_account", "no_action") else None,
            "clause": clause, "reason": reason, "facts": facts, "decided_at": dt.datetime.now(UTC).isoformat(),
            "decided_by": "mod-1", "post": post, "poster": {"id": post["author_id"]},
            "delay_item": {"poster_inquiry": "i", "refer_specialist": "ii", "delay_other": "iii"}.get(action),
            "requests": [{"report_id": r.data["report_id"], "kind": "deletion_request",
                          "requester": r.data["reporter"], "received_at": r.data["received_at"],
                          "right_infringed": "名誉権", "reason": "中傷", "is_repeat": r.data["is_repeat"],
                          "request_type": r.data["request_type"]} for r in requests]}
    data.update(over)
    return make_event(DECISION_RECORDED, source="/t", subject="case-1", data=data)


def feed(runtime, *events):
    service.handle_events(runtime.db, [parse_event(e.to_json()) for e in events])


def notices(runtime):
    with runtime.db.sessions() as s:
        return {n.notice_type: n for n in s.scalars(sa.select(Notice))}, list(s.scalars(sa.select(Notice)))


def outbox(runtime):
    with runtime.db.sessions() as s:
        return [parse_event(o.payload) for o in s.scalars(sa.select(Outbox).order_by(Outbox.seq))]


def test_ack_then_n1_and_n4_exactly_once_even_when_redelivered(notifier):
    req = request_event()
    dec = decision_event([req])
    feed(notifier, req, dec)
    feed(notifier, req, dec)
    by_type, all_notices = notices(notifier)
    assert sorted(n.notice_type for n in all_notices) == ["ACK", "N1", "N4"]
    assert "受付日時" in by_type["ACK"].body["text_ja"] and "日本時間" in by_type["ACK"].body["text_ja"]
    n4 = by_type["N4"].body
    assert "D-1" in n4["text_ja"] and CLAUSE["text"] in n4["text_ja"] and n4["legal_basis"] == "第27条"
    events = outbox(notifier)
    assert len(events) == 3 and len({e.id for e in events}) == 3
    assert {e.id for e in events} == {n.notice_id for n in all_notices}


def test_no_action_sends_n2_with_the_reason_and_no_poster_notice(notifier):
    req = request_event()
    feed(notifier, req, decision_event([req], action="no_action", clause=None, reason="内部メモ：論評と判断",
                                       requester_reason="公共の利害に関する論評の範囲内"))
    by_type, _ = notices(notifier)
    assert set(by_type) == {"ACK", "N2"} and "公共の利害" in by_type["N2"].body["text_ja"]
    assert "内部メモ" not in by_type["N2"].body["text_ja"]  # the moderator's note is not the requester's reason


def test_n4_without_clause_or_facts_is_held_with_an_alert(notifier):
    req = request_event()
    feed(notifier, req, decision_event([req], clause=None, facts=None, reason=""))
    by_type, _ = notices(notifier)
    assert by_type["N4"].status == "held" and "clause" in by_type["N4"].held_reason
    kinds = [e.type for e in outbox(notifier)]
    assert ALERT.name in kinds and kinds.count("jp.modq.notice.poster.v1") == 0


def test_interim_notice_then_final(notifier):
    req = request_event()
    feed(notifier, req, decision_event([req], action="delay_other", clause=None, reason="内部メモ",
                                       requester_reason="大量の申出のため確認中"))
    feed(notifier, decision_event([req], action="poster_inquiry", clause=None))
    by_type, all_notices = notices(notifier)
    assert "N3" in by_type and "大量の申出" in by_type["N3"].body["text_ja"]
    assert sum(n.notice_type == "N3" for n in all_notices) == 1  # one interim per request
    assert "INQ" in by_type and "7日以内" in by_type["INQ"].body["text_ja"]
    feed(notifier, decision_event([req], action="hide"))
    _, all_notices = notices(notifier)
    assert sorted(n.notice_type for n in all_notices) == ["ACK", "INQ", "N1", "N3", "N4"]


def test_the_inq_notice_takes_the_id_the_decision_service_gave_it(notifier):
    feed(notifier, decision_event([], action="poster_inquiry", clause=None, facts="確認中",
                                  inquiry_notice_id="inq-named-by-decision"))
    by_type, _ = notices(notifier)
    assert by_type["INQ"].notice_id == "inq-named-by-decision"


def test_english_locale_gets_english_alongside(notifier):
    req = request_event(locale="en")
    feed(notifier, req)
    by_type, _ = notices(notifier)
    assert by_type["ACK"].body["text_en"].startswith("We have received")


def test_deadline_warning_is_raised_once_before_the_deadline(notifier):
    req = request_event(received_at=due_today_jst())
    feed(notifier, req)
    assert service.check_deadlines(notifier.db) == 1
    assert service.check_deadlines(notifier.db) == 0
    alerts = [e for e in outbox(notifier) if e.type == ALERT.name]
    assert len(alerts) == 1 and alerts[0].data["request_id"] == req.data["report_id"]


def test_receipts_track_delivery_and_record_unreachable_posters(notifier):
    req = request_event()
    feed(notifier, req, decision_event([req]))
    by_type, _ = notices(notifier)
    now = dt.datetime.now(UTC).isoformat()
    feed(notifier, make_event(NOTICE_RECEIPT, source="/sns", subject="case-1",
                              data={"notice_id": by_type["ACK"].notice_id, "status": "delivered", "at": now}),
         make_event(NOTICE_RECEIPT, source="/sns", subject="case-1",
                    data={"notice_id": by_type["N4"].notice_id, "status": "unreachable", "at": now}))
    by_type, _ = notices(notifier)
    assert by_type["ACK"].status == "delivered" and by_type["N4"].status == "unreachable"
    with notifier.db.sessions() as s:
        exc = s.scalar(sa.select(NoticeException))
        assert exc.reason_code == "recipient_unreachable" and exc.related_notice_id == by_type["N4"].notice_id


def test_reversal_after_an_appeal_sends_the_poster_a_new_notice(notifier):
    req = request_event()
    original = decision_event([req])
    feed(notifier, req, original)
    reversal = decision_event([], action="remove", clause=None, reason="異議を認め、措置を取り消します",
                              facts=None, measure=None, final=True, reverses=original.data["decision_id"])
    reversal.data["action"] = "reversal"
    feed(notifier, reversal)
    feed(notifier, reversal)
    _, all_notices = notices(notifier)
    types = sorted(n.notice_type for n in all_notices)
    assert types == ["ACK", "N1", "N4", "REV"]
    rev = [n for n in all_notices if n.notice_type == "REV"][0]
    assert rev.status == "sent" and "取り消しました" in rev.body["text_ja"]
    # the post is named by its address and text, not by a raw decision id
    assert original.data["decision_id"] not in rev.body["text_ja"]
    assert "https://sns.example.jp/posts/1" in rev.body["text_ja"] and "お前なんか消えろ" in rev.body["text_ja"]
    assert rev.body["details"]["reverses"] == original.data["decision_id"]
    n4 = [n for n in all_notices if n.notice_type == "N4"][0]
    assert n4.body["text_ja"]  # the earlier notice is untouched


INTERNAL = "内部メモ：担当者間の検討用・外部秘"


@pytest.mark.parametrize("action,over", [
    ("remove", {"facts": None}),
    ("remove", {"facts": "投稿者向けの説明"}),
    ("suspend_account", {"facts": "", "clause": None, "exception_code": "urgent_unforeseen"}),
    ("no_action", {"clause": None, "requester_reason": "論評の範囲内"}),
    ("delay_other", {"clause": None, "requester_reason": "確認に時間を要するため"}),
    ("poster_inquiry", {"clause": None, "facts": "確認したい事項", "inquiry_notice_id": "inq-1", "inquiry_days": 7}),
])
def test_the_internal_note_never_reaches_a_notice(notifier, action, over):
    req = request_event()
    dec = decision_event([req], action=action, reason=INTERNAL, **over)
    feed(notifier, req, dec)
    reversal = decision_event([], clause=None, reason=INTERNAL, facts=None, measure=None,
                              reverses=dec.data["decision_id"])
    reversal.data["action"] = "reversal"
    feed(notifier, reversal)
    by_type, all_notices = notices(notifier)
    assert len(all_notices) >= 2
    for n in all_notices:
        assert "内部メモ" not in str(n.body), n.notice_type
    for e in outbox(notifier):
        assert "内部メモ" not in str(e.data), e.type
    if action in ("remove", "suspend_account"):
        n4 = by_type["N4"]
        assert n4.status == "sent"
        expected = over["facts"] or ("D-1「名誉毀損」" if over.get("clause", CLAUSE) else "緊急かつ予見できなかった")
        assert expected in n4.body["text_ja"]
