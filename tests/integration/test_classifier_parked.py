"""The classifier parks what it cannot score: against the real broker, the classifier's own
worker (its consumer as ``build_worker`` wires it, a tiny model) meets a received report whose
envelope is valid but whose id its scores table cannot hold. The event is tried the configured
number of times, parked in the classifier's ``parked_events`` and dead-lettered with the reason;
the rest of its batch and of its partition is scored; ``python -m services.classifier parked``
lists it, shows it and publishes it again."""
import json
import os
import subprocess
import sys
import threading
import uuid

import pytest
import sqlalchemy as sa
from kafka import KafkaProducer

from shared.events import REPORT_RECEIVED
from shared.settings import REPO_ROOT
from services.classifier.models import ParkedEvent, Score
from services.classifier.worker import build_worker
from tests.integration.test_decision_service import received
from tests.integration.test_outbox_and_consumers import read_all
from tests.integration.test_parked_events import assert_moved_past_and_dead_lettered, wait_for
from tests.support.databases import make_runtime

pytestmark = pytest.mark.broker


def classifier_cli(db_url: str, *argv: str) -> tuple[int, list, str]:
    """The command as an operator runs it, in its own process on the same database and broker."""
    env = {**os.environ, "MODQ_CLASSIFIER_DATABASE_URL": db_url}
    done = subprocess.run([sys.executable, "-m", "services.classifier", "parked", *argv], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def scored_ids(runtime) -> set:
    with runtime.db.sessions() as s:
        return set(s.scalars(sa.select(Score.report_id)))


def parked_row(runtime):
    with runtime.db.sessions() as s:
        return s.scalar(sa.select(ParkedEvent))


def test_a_report_the_classifier_cannot_score_is_parked_and_replayed(broker, topics, db_url, tiny_model,
                                                                     monkeypatch):
    monkeypatch.setenv("MODQ_CLASSIFIER_MODEL", str(tiny_model))
    monkeypatch.setenv("MODQ_CONSUMER_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("MODQ_CONSUMER_RETRY_BACKOFF_MS", "10")
    runtime = make_runtime("classifier", db_url)
    before = received(case_id="c-hot", kind="report", reporter="r1")
    # A report id from a system that mints longer ids: the envelope schema sets no limit, the
    # classifier's scores table (like every service's) holds 64 characters.
    poison = received(case_id="c-hot", kind="report", reporter="r2",
                      report_id="legacy-import-" + uuid.uuid4().hex + uuid.uuid4().hex)
    after = received(case_id="c-hot", kind="report", reporter="r3")
    elsewhere = received(case_id="c-other", kind="report", reporter="r4")
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for env in (before, poison, after):  # one key: one partition, in this order, one batch
        producer.send(REPORT_RECEIVED.topic, key=b"c-hot", value=env.to_json())
    producer.send(REPORT_RECEIVED.topic, key=b"c-other", value=elsewhere.to_json())
    producer.flush()

    worker = build_worker(runtime)
    consumer = worker.consumers[0]
    assert consumer.parking is not None and consumer.parking.model is ParkedEvent
    thread = threading.Thread(target=consumer.run_forever, daemon=True)
    thread.start()
    good = {e.data["report_id"] for e in (before, after, elsewhere)}
    try:
        assert wait_for(lambda: consumer.parked == 1 and scored_ids(runtime) == good), scored_ids(runtime)
        row = parked_row(runtime)
        assert (row.state, row.event_id, row.attempts, row.consumer) == ("parked", poison.id, 3, consumer.group_id)
        assert row.error == "UnscorableReport: report_id: 78 characters, at most 64"
        assert (row.topic, row.key) == (REPORT_RECEIVED.topic, "c-hot")

        dead = assert_moved_past_and_dead_lettered(broker, topics, consumer.group_id, row)
        assert dead["reason"] == "parked after 3 attempts: " + row.error

        rc, listed, err = classifier_cli(db_url, "list")
        assert rc == 0 and [(r["id"], r["event_id"]) for r in listed] == [(row.id, poison.id)], err
        rc, shown, err = classifier_cli(db_url, "show", str(row.id))
        assert rc == 0 and shown[0]["event"]["data"]["report_id"] == poison.data["report_id"], err

        # Replayed: on its topic again with the same id; still unscorable, so it comes back parked
        # in the same row with its attempts added up and is dead-lettered again.
        rc, replayed, err = classifier_cli(db_url, "replay", str(row.id), "--actor", "ops")
        assert rc == 0 and [(r["id"], r["state"]) for r in replayed] == [(row.id, "replayed")], err
        again = [r for r in read_all(broker.bootstrap, REPORT_RECEIVED.topic, 5) if json.loads(r.value)["id"] == poison.id]
        assert len(again) == 2 and again[1].key == b"c-hot"
        assert wait_for(lambda: consumer.parked == 2)
        row = parked_row(runtime)
        assert (row.state, row.attempts) == ("parked", 6) and "replayed by ops" in row.resolution
        assert len(read_all(broker.bootstrap, topics["deadletter"], 2)) == 2
    finally:
        consumer.stop()
        thread.join(10)
    assert scored_ids(runtime) == good  # each good report scored once, the poison never
    with runtime.db.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ParkedEvent)) == 1
