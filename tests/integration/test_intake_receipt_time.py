"""The §22 time of receipt on the Kafka path is the event's own time, bounded (SQLite and
PostgreSQL); consumer lag never moves the receipt time or the §25 deadline."""
import datetime as dt

import pytest

from shared import clock
from shared.events import REPORT_SUBMITTED, Envelope, parse_event
from services.intake.worker import Rejected, accept_submitted_events, dead_letter_body
from tests.support.databases import make_runtime
from tests.support.helpers import report_body

UTC = dt.timezone.utc


def submitted(event_id, at):
    body = report_body("deletion_request", post_id="p-lag", reporter_id=event_id, rights_holder=True)
    return parse_event(Envelope(id=event_id, type=REPORT_SUBMITTED, source="/sns/demo", subject="p-lag",
                                time=at, data=body).to_json())


@pytest.fixture
def intake_db(db_url):
    """Intake's write path (the group commit) on a fresh database."""
    from services.intake.batching import GroupCommit

    return GroupCommit(make_runtime("intake", db_url).db)


def test_a_lagging_consumer_keeps_the_events_receipt_time(intake_db):
    handed_over = dt.datetime.now(UTC) - dt.timedelta(minutes=40)   # the consumer lagged 40 minutes
    (accepted,) = accept_submitted_events(intake_db, [submitted("evt-lag", handed_over)])
    # The response shows whole seconds (JST); the stored instant is the event's.
    assert abs(clock.parse_instant(accepted.result["received_at"]) - handed_over) < dt.timedelta(seconds=1)
    assert accepted.result["deadline_at"] == clock.to_jst_iso(clock.s25_deadline(handed_over))


@pytest.mark.parametrize("offset,why", [(dt.timedelta(minutes=10), "future"), (dt.timedelta(days=-2), "older")])
def test_an_event_time_out_of_bounds_is_dead_lettered_with_the_reason(intake_db, offset, why):
    env = submitted("evt-bad", dt.datetime.now(UTC) + offset)
    (outcome,) = accept_submitted_events(intake_db, [env])
    assert isinstance(outcome, Rejected) and why in outcome.reason
    assert why.encode() in dead_letter_body(env, outcome)
