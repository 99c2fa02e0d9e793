"""Two worker replicas on one service database: periodic jobs run once per interval across
them, and two outbox relays publish every event once, in order per key (each replica with its
own engine and connections, as two processes would have)."""
import collections
import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa

from shared.db import Database, utcnow
from shared.events import REPORT_RECEIVED, parse_event
from shared.jobs import claim_run
from shared.kafka import make_producer
from shared.outbox import OutboxRelay, backlog, stage
from shared.runtime import Runtime, Worker
from shared.settings import KafkaSettings
from tests.support.databases import make_runtime
from tests.integration.test_decision_service import received
from tests.integration.test_outbox_and_consumers import read_all

pytestmark = pytest.mark.broker


def replica(runtime: Runtime) -> Runtime:
    """The same service database seen through a second engine (another process's pool)."""
    return Runtime(settings=runtime.settings, db=Database(runtime.db.url), outbox_model=runtime.outbox_model,
                   migrations_dir=runtime.migrations_dir)


def test_a_job_runs_once_per_interval_whoever_asks(db_url):
    runtime = make_runtime("notifier", db_url)
    model, every, t0 = runtime.jobs_model, dt.timedelta(seconds=60), utcnow()
    assert claim_run(runtime.db, model, "s25-clock", every, "a", now=t0)
    assert not claim_run(runtime.db, model, "s25-clock", every, "b", now=t0)
    assert not claim_run(runtime.db, model, "s25-clock", every, "b", now=t0 + dt.timedelta(seconds=59))
    assert claim_run(runtime.db, model, "s25-clock", every, "b", now=t0 + dt.timedelta(seconds=60))
    assert claim_run(runtime.db, model, "notice-retries", every, "a", now=t0)  # each job its own schedule


def test_two_replicas_run_a_periodic_job_once_per_interval(broker, topics, db_url):
    runtime = make_runtime("notifier", db_url)
    runs: list[tuple[str, float]] = []
    lock = threading.Lock()
    workers = []
    for name in ("replica-a", "replica-b"):
        worker = Worker(replica(runtime))

        def job(name=name):
            with lock:
                runs.append((name, time.monotonic()))
        worker.every("s25-clock", 0.5, job)
        workers.append(worker)
    threads = [threading.Thread(target=w._periodic_loop, args=(w.periodics[0],), daemon=True) for w in workers]
    for t in threads:
        t.start()
    time.sleep(4.1)
    for w in workers:
        w.stop()
    for t in threads:
        t.join(5)
    # Unguarded, two replicas would run it about 16 times in 4 s; once per interval is about 8.
    assert 6 <= len(runs) <= 9, runs
    gaps = [b[1] - a[1] for a, b in zip(runs, runs[1:])]
    assert min(gaps) > 0.4, gaps
    with runtime.db.sessions() as s:
        row = s.get(runtime.jobs_model, "s25-clock")
        assert row.last_owner and row.next_run_at > row.last_started_at


def test_two_relays_publish_every_event_once_and_in_order_per_key(broker, topics, db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("one worker per SQLite database; replicas share PostgreSQL")
    runtime = make_runtime("intake", db_url)
    events = []
    with runtime.db.unit_of_work() as uow:
        for i in range(600):
            case_id = f"case-{i % 12}"
            env = received(case_id=case_id, kind="report")
            stage(uow.session, runtime.outbox_model, env, REPORT_RECEIVED.topic, key=case_id)
            events.append(env)
        uow.commit()
    relays = [OutboxRelay(replica(runtime).db, runtime.outbox_model, make_producer(KafkaSettings.from_env(), f"r{i}"),
                          batch_size=25, poll_seconds=0.01) for i in range(2)]
    threads = [threading.Thread(target=r.run_forever, daemon=True) for r in relays]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while backlog(runtime.db, runtime.outbox_model) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # a pass that would publish a second time has had its chance
    for r in relays:
        r.stop()
    for t in threads:
        t.join(10)
    assert backlog(runtime.db, runtime.outbox_model) == 0
    records = read_all(broker.bootstrap, topics["reports_received"], 601, timeout=15)
    ids = [parse_event(r.value).id for r in records]
    assert len(ids) == 600 and set(ids) == {e.id for e in events}
    staged_order = {e.id: i for i, e in enumerate(events)}
    per_key = collections.defaultdict(list)
    for record in records:
        per_key[record.key.decode()].append(staged_order[parse_event(record.value).id])
    assert all(ns == sorted(ns) for ns in per_key.values())
    with runtime.db.sessions() as s:
        assert s.scalar(sa.select(sa.func.max(runtime.outbox_model.attempts))) == 1
