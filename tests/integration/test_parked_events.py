"""One bad event never stalls a consumer: against the real broker and the decision service's
real projection, a poison event is retried a bounded number of times, parked in the service's
``parked_events`` and dead-lettered with the reason while the rest of its partition goes on; a
score that waited too long for its report is parked and can be replayed once the report came;
the ``parked`` command lists, shows, replays and discards them."""
import contextlib
import datetime as dt
import io
import json
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
import yaml
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from shared import cli
from shared.events import REPORT_RECEIVED, REPORT_SCORED
from shared.kafka import EventConsumer, ParkingLot, is_transient, make_producer
from shared.parking import Failure, dead_letter_row, observe, park
from shared.parking import replay as parking_replay
from shared.settings import KafkaSettings
from services.decision import handlers
from services.decision.cases import projection
from services.decision.cases.models import Case
from services.decision.models import ParkedEvent
from tests.integration.test_decision_service import received, scored
from tests.integration.test_outbox_and_consumers import read_all

pytestmark = pytest.mark.broker


def assert_documented_dead_letter(body: dict) -> None:
    from tests.unit.test_event_docs import DOCS, validator_for

    document = yaml.safe_load((DOCS / "asyncapi.yaml").read_text(encoding="utf-8"))
    errors = list(validator_for(document, {"$ref": "#/components/schemas/DeadLetter"}).iter_errors(body))
    assert errors == [], errors


def assert_moved_past_and_dead_lettered(broker, topics, group: str, row) -> dict:
    """The group's offset is past the parked event and its next one (a restart does not meet it
    again), and the dead-letter topic holds it once, as documented; returns that message."""
    probe = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group)
    try:
        assert probe.committed(TopicPartition(row.topic, row.partition)) == row.offset + 2
    finally:
        probe.close()
    dead = [json.loads(r.value) for r in read_all(broker.bootstrap, topics["deadletter"], 1)]
    assert [(d["event_id"], d["attempts"], d["parked_id"]) for d in dead] == [(row.event_id, 3, row.id)]
    assert_documented_dead_letter(dead[0])
    return dead[0]


def run_consumer(runtime, group_id: str) -> tuple[EventConsumer, threading.Thread]:
    consumer = EventConsumer(
        KafkaSettings.from_env(), group_id=group_id, topics=[REPORT_RECEIVED.topic, REPORT_SCORED.topic],
        handler=lambda batch: handlers.handle_events(runtime.db, batch),
        producer=make_producer(KafkaSettings.from_env(), "t"), client_id="t",
        expected_types=(REPORT_RECEIVED.name, REPORT_SCORED.name),
        parking=ParkingLot(runtime.db, ParkedEvent), max_attempts=3, retry_backoff_ms=10)
    thread = threading.Thread(target=consumer.run_forever, daemon=True)
    thread.start()
    return consumer, thread


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def cases(runtime) -> dict:
    with runtime.db.sessions() as s:
        return {c.id: c.score for c in s.scalars(sa.select(Case))}


def parked_cli(runtime, *argv) -> tuple[int, list]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = cli.main("decision", runtime_factory=lambda: runtime, app_spec="-", build_worker=None,
                      argv=["parked", *argv])
    return rc, [json.loads(line) for line in out.getvalue().splitlines()]


def test_poison_event_is_parked_and_dead_lettered_while_its_partition_goes_on(broker, topics, decision):
    # A valid event the projection can never apply: a second case for a post that has one.
    first = received(case_id="c-first")
    poison = received(case_id="c-poison")
    poison.data["post"] = dict(first.data["post"])
    after = received(case_id="c-after")
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for env in (first, poison, after):  # one key: one partition, in this order
        producer.send(REPORT_RECEIVED.topic, key=b"same", value=env.to_json())
    producer.send(REPORT_SCORED.topic, key=b"same", value=scored(after.data["report_id"], "c-after").to_json())
    producer.flush()

    group = f"g-{uuid.uuid4().hex[:6]}"
    consumer, thread = run_consumer(decision, group)
    try:
        assert wait_for(lambda: consumer.parked == 1 and cases(decision).get("c-after") == 0.9), cases(decision)
    finally:
        consumer.stop()
        thread.join(10)
    assert set(cases(decision)) == {"c-first", "c-after"}
    with decision.db.sessions() as s:
        row = s.scalar(sa.select(ParkedEvent).where(ParkedEvent.state == "parked"))
    assert (row.event_id, row.consumer, row.attempts, row.topic) == (poison.id, group, 3, REPORT_RECEIVED.topic)
    assert "IntegrityError" in row.error and json.loads(row.payload)["id"] == poison.id

    dead = assert_moved_past_and_dead_lettered(broker, topics, group, row)
    assert dead["reason"].startswith("parked after 3 attempts: IntegrityError")
    assert REGISTRY.get_sample_value("modq_events_parked_total", {"group": group, "reason": "failed"}) == 1

    # The gauges the workers export (and alert on) count it.
    assert observe(decision.db, ParkedEvent)["parked"] == 1
    assert REGISTRY.get_sample_value("modq_parked_events", {"state": "parked"}) == 1

    # The command line: listed, shown with the whole event, discarded with the reason.
    rc, listed = parked_cli(decision, "list")
    assert rc == 0 and [r["event_id"] for r in listed] == [poison.id]
    rc, shown = parked_cli(decision, "show", str(row.id))
    assert rc == 0 and shown[0]["event"]["data"]["case_id"] == "c-poison"
    rc, done = parked_cli(decision, "discard", str(row.id), "--reason", "重複した投稿の誤送信", "--actor", "ops")
    assert rc == 0 and done[0]["state"] == "discarded" and "ops" in done[0]["resolution"]
    assert parked_cli(decision, "list") == (0, [])
    assert parked_cli(decision, "discard", str(row.id), "--reason", "again")[0] == 1


def test_score_that_waited_too_long_is_parked_then_replayed_once_its_report_came(broker, topics, decision):
    report = received(case_id="c-late")
    score = scored(report.data["report_id"], "c-late")
    handlers.handle_events(decision.db, [score])
    assert projection.resolve_pending_scores(decision.db, dt.timedelta(minutes=15)) == {"applied": 0, "parked": 0}
    parked_rows = []
    observe(decision.db, ParkedEvent)
    assert REGISTRY.get_sample_value("modq_parked_events", {"state": "pending"}) == 1
    assert REGISTRY.get_sample_value("modq_pending_oldest_seconds") >= 0
    result = projection.resolve_pending_scores(decision.db, dt.timedelta(0), on_parked=parked_rows.append)
    assert result == {"applied": 0, "parked": 1}
    producer = make_producer(KafkaSettings.from_env(), "t")
    dead_letter_row(producer, parked_rows[0])
    dead = json.loads(read_all(broker.bootstrap, topics["deadletter"], 1)[0].value)
    assert dead["event_id"] == score.id and "never arrived" in dead["reason"]
    assert_documented_dead_letter(dead)

    handlers.handle_events(decision.db, [report])  # the report comes after all: the parked score stays parked
    assert cases(decision) == {"c-late": None}
    group = f"g-{uuid.uuid4().hex[:6]}"
    consumer, thread = run_consumer(decision, group)
    try:
        rc, replayed = parked_cli(decision, "replay", "--all")
        assert rc == 0 and [r["state"] for r in replayed] == ["replayed"]
        assert wait_for(lambda: cases(decision) == {"c-late": 0.9}), cases(decision)
    finally:
        consumer.stop()
        thread.join(10)
    assert consumer.parked == 0


def test_held_score_is_applied_by_the_sweep_when_its_report_was_committed_unseen(decision):
    """Two replicas: one holds the score while the other commits the report without seeing it."""
    report = received(case_id="c-race")
    score = scored(report.data["report_id"], "c-race")
    handlers.handle_events(decision.db, [score])
    with decision.db.unit_of_work() as uow:  # the report's transaction, as the other replica ran it
        projection.on_report_received(uow.session, report)
        uow.commit()
    assert projection.resolve_pending_scores(decision.db, dt.timedelta(minutes=15)) == {"applied": 1, "parked": 0}
    assert cases(decision) == {"c-race": 0.9}


def test_infrastructure_failures_are_retried_without_limit_event_failures_are_counted():
    from sqlalchemy.exc import IntegrityError, OperationalError

    assert is_transient(OperationalError("SELECT 1", {}, Exception("server closed the connection")))
    assert not is_transient(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_transient(KeyError("post"))


class _RefailingProducer:
    """A producer whose publish is answered at once by a consumer that fails on the event again
    and parks it, before ``send(...).get()`` returns: the order a fast replica can produce."""

    def __init__(self, db, event, fail: bool = False):
        self.db, self.event, self.fail, self.sent = db, event, fail, []

    def send(self, topic, key=None, value=None):
        if self.fail:
            raise RuntimeError("broker unreachable")
        self.sent.append((topic, key))
        park(self.db, ParkedEvent, self.event, Failure("g", topic, 0, 7, key, "failed again", 3))
        return self

    def get(self, timeout=None):
        return None


def test_an_event_that_fails_again_on_replay_stays_parked_and_a_failed_publish_changes_nothing(decision):
    score = scored("r-missing", "c-replay")
    row_id = park(decision.db, ParkedEvent, score, Failure("g", REPORT_SCORED.topic, 0, 7, "c-replay", "boom", 3))
    with pytest.raises(RuntimeError):
        parking_replay(decision.db, ParkedEvent, row_id, _RefailingProducer(decision.db, score, fail=True), "ops")
    with decision.db.sessions() as s:
        row = s.get(ParkedEvent, row_id)
        assert (row.state, row.attempts) == ("parked", 3) and "failed to publish" in row.resolution

    producer = _RefailingProducer(decision.db, score)
    parking_replay(decision.db, ParkedEvent, row_id, producer, "ops")
    with decision.db.sessions() as s:
        row = s.get(ParkedEvent, row_id)
        assert producer.sent == [(REPORT_SCORED.topic, "c-replay")]
        assert (row.state, row.attempts, row.error) == ("parked", 6, "failed again")
