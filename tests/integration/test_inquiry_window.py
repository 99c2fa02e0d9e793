"""The poster's reply window (§3(2)(ii), §4, AV law §16): decided once, carried in the event,
and an objection that reaches the decision service before the delivery event is judged
against the window the notifier counted. SQLite and PostgreSQL."""
import datetime as dt
import json
import uuid
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from shared import clock
from shared.events import INQUIRY_DELIVERED, REPORT_RECEIVED, make_event, parse_event
from services.decision import handlers
from services.decision.inquiries import service as inquiry_service
from services.decision.decisions.domain import DecisionInput
from services.decision.cases.models import Case
from services.decision.inquiries.models import PosterInquiry, PosterReply
from services.decision.models import Outbox
from services.decision.users.models import User
from tests.integration.test_decision_http import decide

UTC = dt.timezone.utc
JST = ZoneInfo("Asia/Tokyo")


def request(case_id, requester, request_type, right="名誉権", received_at=None):
    received_at = received_at or dt.datetime.now(UTC)
    return make_event(REPORT_RECEIVED, source="/t", subject=case_id, data={
        "report_id": str(uuid.uuid4()), "case_id": case_id, "kind": "deletion_request",
        "treated_as": "deletion_request", "received_at": received_at.isoformat(), "request_type": request_type,
        "deadline_at": clock.s25_deadline(received_at).isoformat(),
        "post": {"id": f"p-{case_id}", "url": "https://sns.example.jp/posts/1", "author_id": "u-poster",
                 "text": "候補者は横領している", "posted_at": received_at.isoformat()},
        "reporter": {"id": requester, "is_rights_holder": True, "contact": "mail:r@example.jp"},
        "reason": "虚偽の事実です", "right_infringed": right})


def moderator(runtime):
    with runtime.db.sessions() as s:
        return s.scalar(sa.select(User).where(User.email == "moderator@example.jp"))


def ask_poster(runtime, case_id):
    return decide(runtime, case_id, moderator(runtime),
                  DecisionInput(action="poster_inquiry", reason="発信者の意見を聴く")).id


def decision_event(runtime, decision_id):
    with runtime.db.sessions() as s:
        rows = s.scalars(sa.select(Outbox).where(Outbox.event_type.like("%decision.recorded%"))).all()
    return next(json.loads(r.payload)["data"] for r in rows if decision_id.encode() in bytes(r.payload))


def delivery(case_id, decision_id, delivered_at, days):
    end = clock.period_end(delivered_at, days)
    return make_event(INQUIRY_DELIVERED, source="/t", subject=case_id, data={
        "notice_id": "n-" + decision_id, "case_id": case_id, "decision_id": decision_id, "poster_id": "u-poster",
        "request_type": "ordinary", "reply_days": days, "delivered_at": delivered_at.isoformat(),
        "reply_deadline_at": end.isoformat(), "measure_allowed_from": (end + dt.timedelta(microseconds=1)).isoformat()})


def feed(runtime, *events):
    handlers.handle_events(runtime.db, [parse_event(e.to_json()) for e in events])


def test_mixed_requests_get_seven_days_and_an_early_objection_counts(decision):
    t0 = dt.datetime(2025, 5, 30, 9, 0, tzinfo=JST)
    feed(decision, request("c-mixed", "candidate", "election", received_at=t0),
         request("c-mixed", "someone", "ordinary", received_at=t0 + dt.timedelta(hours=1)))
    decision_id = ask_poster(decision, "c-mixed")
    assert decision_event(decision, decision_id)["inquiry_days"] == 7
    with decision.db.sessions() as s:
        inquiry = s.get(PosterInquiry, decision_id)
        assert inquiry.request_type == "ordinary"
        # The decision service names the INQ notice and tells the notifier (one owner of the id).
        assert decision_event(decision, decision_id)["inquiry_notice_id"] == inquiry.notice_id
    delivered_at = dt.datetime(2025, 6, 2, 10, 0, tzinfo=JST)
    # The objection on day 3 reaches the decision service before the delivery event does.
    with decision.db.unit_of_work() as uow:
        reply = inquiry_service.record_poster_reply(uow.session, {
            "case_id": "c-mixed", "decision_id": decision_id, "poster_id": "u-poster", "objection": True,
            "text": "", "received_at": dt.datetime(2025, 6, 5, 12, 0, tzinfo=JST).isoformat(),
            "delivered_at": delivered_at.isoformat()}, reply_id="early", actor="system:sns")
        assert reply.late is False
        uow.commit()
    feed(decision, delivery("c-mixed", decision_id, delivered_at, 7))
    with decision.db.sessions() as s:
        inquiry = s.get(PosterInquiry, decision_id)
        assert inquiry.window_ends_at.astimezone(JST).date() == dt.date(2025, 6, 9)
        assert s.get(PosterReply, "early").late is False and inquiry.outcome == "objected"
        assert s.get(Case, "c-mixed").ready_to_decide_at is None


def test_reply_before_delivery_is_judged_against_the_notifiers_window(decision):
    """The delivery event's window is the one that counts: a reply stored earlier is re-judged."""
    feed(decision, request("c-late", "r1", "ordinary"))
    decision_id = ask_poster(decision, "c-late")
    delivered_at = dt.datetime(2025, 6, 2, 10, 0, tzinfo=JST)
    with decision.db.unit_of_work() as uow:
        inquiry_service.record_poster_reply(uow.session, {
            "case_id": "c-late", "decision_id": decision_id, "poster_id": "u-poster", "objection": True,
            "text": "", "received_at": dt.datetime(2025, 6, 5, 12, 0, tzinfo=JST).isoformat(),
            "delivered_at": delivered_at.isoformat()}, reply_id="r", actor="system:sns")
        uow.commit()
    feed(decision, delivery("c-late", decision_id, delivered_at, 2))  # the notifier counted 2 days
    with decision.db.sessions() as s:
        assert s.get(PosterReply, "r").late is True
        assert s.get(PosterInquiry, decision_id).outcome == "waiting"
        assert s.get(Case, "c-late").ready_to_decide_at is not None


@pytest.mark.parametrize("request_type,right,days", [
    ("election", "名誉権", 2), ("election", "プライバシー", 7), ("av_performer", "肖像権", 2),
    ("av_performer", "", 7), ("ordinary", "名誉権", 7)])
def test_two_days_only_when_the_conditions_hold(request_type, right, days):
    assert clock.inquiry_days(clock.inquiry_request_type([(request_type, right)])) == days


def test_an_election_privacy_request_gets_seven_days(decision):
    feed(decision, request("c-priv", "candidate", "election", right="プライバシー"))
    decision_id = ask_poster(decision, "c-priv")
    assert decision_event(decision, decision_id)["inquiry_days"] == 7
