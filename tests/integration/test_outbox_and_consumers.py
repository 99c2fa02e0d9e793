"""Outbox relay, consumers and dead-lettering against the real broker."""
import datetime as dt
import json
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
from kafka import KafkaConsumer, KafkaProducer

from shared.events import REPORT_RECEIVED, make_event, parse_event
from shared.kafka import EventConsumer, make_producer
from shared.outbox import OutboxRelay, replay
from shared.settings import KafkaSettings
from tests.support.databases import make_runtime
from tests.support.helpers import report_body

pytestmark = pytest.mark.broker


def read_all(bootstrap, topic, expect, timeout=20.0):
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"t-{uuid.uuid4().hex[:6]}",
                             auto_offset_reset="earliest", session_timeout_ms=2000, heartbeat_interval_ms=500)
    out = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expect and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                out.extend(batch)
    finally:
        consumer.close()
    return out


def submit(runtime, n=3):
    from shared.db import utcnow
    from services.intake.batching import GroupCommit
    from services.intake.domain import Submission

    writer = GroupCommit(runtime.db)
    return [writer.submit(Submission(report_body(), "demo", f"k{i}", "http", utcnow())) for i in range(n)]


def test_relay_publishes_each_event_and_marks_it_sent(broker, topics, db_url):
    runtime = make_runtime("intake", db_url)
    submit(runtime, 3)
    producer = make_producer(KafkaSettings.from_env(), "test")
    relay = OutboxRelay(runtime.db, runtime.outbox_model, producer)
    assert relay.publish_pending() == 3
    assert relay.publish_pending() == 0
    records = read_all(broker.bootstrap, topics["reports_received"], 3)
    events = [parse_event(r.value) for r in records]
    assert len({e.id for e in events}) == 3
    assert all(r.key.decode() == e.subject for r, e in zip(records, events))
    # replay re-publishes with the same ids
    assert replay(runtime.db, runtime.outbox_model, dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)) == 3
    assert relay.publish_pending() == 3
    again = read_all(broker.bootstrap, topics["reports_received"], 6)
    assert {parse_event(r.value).id for r in again} == {e.id for e in events}


def test_consumer_dead_letters_malformed_messages_and_keeps_going(broker, topics, db_url):
    runtime = make_runtime("intake", db_url)
    good = make_event(REPORT_RECEIVED, source="/t", subject="c1", data={
        "report_id": "r1", "case_id": "c1", "kind": "report", "treated_as": "report",
        "received_at": "2026-01-01T00:00:00+00:00", "post": report_body()["post"],
        "reporter": {"id": "u1"}})
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    topic = topics["reports_received"]
    for value in (b"garbage", b'{"specversion":"1.0"}', json.dumps({"x": 1}).encode(), good.to_json(),
                  b"\xff" * 10):
        producer.send(topic, value=value)
    producer.flush()
    seen = []
    consumer = EventConsumer(KafkaSettings.from_env(), group_id=f"g-{uuid.uuid4().hex[:6]}", topics=[topic],
                             handler=seen.extend, producer=make_producer(KafkaSettings.from_env(), "t"),
                             client_id="t", expected_types=(REPORT_RECEIVED.name,))
    thread = threading.Thread(target=consumer.run_forever, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while (not seen or consumer.dead_lettered < 4) and time.monotonic() < deadline:
        time.sleep(0.1)
    consumer.stop()
    thread.join(10)
    assert [e.id for e in seen] == [good.id]
    from prometheus_client import REGISTRY

    assert REGISTRY.get_sample_value("modq_events_dead_lettered_total", {"group": consumer.group_id}) == 4
    assert REGISTRY.get_sample_value("modq_events_handled_total", {"group": consumer.group_id}) == 1
    dlq = read_all(broker.bootstrap, topics["deadletter"], 4)
    reasons = [json.loads(r.value)["reason"] for r in dlq]
    assert len(reasons) == 4 and all(reasons)
