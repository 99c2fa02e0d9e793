"""The Kafka path (modq.reports.submitted) against the real broker: the same validation and
the same result as the HTTP API, the CloudEvent id as idempotency key, and every message it
cannot accept in the dead-letter topic with the reason."""
import datetime as dt
import json
import threading
import time

import pytest
import sqlalchemy as sa
from kafka import KafkaProducer

from shared.events import REPORT_SUBMITTED, Envelope
from tests.support.databases import make_runtime
from tests.support.helpers import report_body, signed
from tests.integration.test_outbox_and_consumers import read_all

pytestmark = pytest.mark.broker


def submitted(event_id: str, data, event_type: str = REPORT_SUBMITTED) -> bytes:
    return Envelope(id=event_id, type=event_type, source="/sns/demo", subject="p-kafka",
                    time=dt.datetime.now(dt.timezone.utc), data=data).to_json()


def reports(runtime):
    with runtime.db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM reports ORDER BY received_at"))]


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_kafka_submissions_match_the_http_path_and_bad_ones_are_dead_lettered(broker, topics, db_url):
    from services.intake.app import create_app
    from services.intake.worker import build_worker

    runtime = make_runtime("intake", db_url)
    worker = build_worker(runtime)
    consumer = worker.consumers[0]
    thread = threading.Thread(target=consumer.run_forever, daemon=True)
    thread.start()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    request = report_body("deletion_request", post_id="p-kafka", reporter_id="u-kafka", rights_holder=True)
    too_long = report_body()
    too_long["post"]["text"] = "あ" * 20001
    not_a_holder = report_body("deletion_request", post_id="p-kafka", reporter_id="u-other")
    messages = [
        submitted("evt-ok", request),
        submitted("evt-ok", request),                       # redelivered: stored once
        submitted("evt-missing", {"kind": "report"}),       # invalid: missing post and reporter
        submitted("evt-long", too_long),                    # invalid: text over the limit
        submitted("x" * 201, report_body()),                # the id cannot be an idempotency key
        submitted("evt-type", request, "jp.modq.report.unknown.v1"),  # not a submission
        b"\xff not json",
        submitted("evt-not-holder", not_a_holder),
    ]
    try:
        for value in messages:
            producer.send(topics["reports_submitted"], value=value)
        producer.flush()
        assert wait_for(lambda: len(reports(runtime)) == 2 and consumer.dead_lettered >= 2), reports(runtime)
        dead = read_all(broker.bootstrap, topics["deadletter"], 5)
    finally:
        consumer.stop()
        thread.join(timeout=15)
        producer.close()
        worker.producer.close()

    bodies = [json.loads(r.value) for r in dead]
    reasons = " | ".join(json.dumps(b, ensure_ascii=False) for b in bodies)
    assert len(bodies) == 5, reasons
    by_id = {b.get("event_id"): b for b in bodies}
    assert set(by_id["evt-missing"]["fields"]) == {"post", "reporter"}
    assert "Longer than maximum length 20000." in json.dumps(by_id["evt-long"]["fields"])
    assert by_id["evt-long"]["event"]["data"]["post"]["text"].startswith("あ")  # enough to resend
    assert "idempotency key" in by_id["x" * 201]["reason"]
    assert "unexpected event type" in reasons and "not UTF-8 JSON" in reasons

    # partitions are consumed in any order: find each record by its key
    by_key = {r["idempotency_key"]: r for r in reports(runtime)}
    by_kafka, not_holder = by_key["evt-ok"], by_key["evt-not-holder"]
    assert (by_kafka["source"], by_kafka["client_id"], by_kafka["idempotency_key"]) == ("kafka", "kafka:/sns/demo", "evt-ok")
    assert not_holder["treated_as"] == "report" and "通報として扱います" in not_holder["treatment_note"]

    # the same body over HTTP is stored the same way
    client = create_app(runtime).test_client()
    raw, headers = signed(request)
    assert client.post("/v1/reports", data=raw, headers=headers).status_code == 202
    [by_http] = [r for r in reports(runtime) if r["source"] == "http"]
    same = ("case_id", "kind", "treated_as", "treatment_note", "request_type", "reporter_id", "evidence_sha256",
            "reason", "right_infringed")
    assert {k: by_kafka[k] for k in same} == {k: by_http[k] for k in same}
    assert by_kafka["deadline_at"] is not None and by_http["is_repeat"]
