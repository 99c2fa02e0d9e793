"""Two decision worker processes share the projection (four partitions per topic, keyed by
case) on PostgreSQL; one is killed with SIGKILL mid-stream. The survivor takes its partitions
over (the rebalance is logged with how long it took and the partitions it assigned) and every report and score takes effect
exactly once: none lost, none applied twice."""
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa
from kafka import KafkaProducer

from tools.broker import die_with_parent
from shared.events import REPORT_RECEIVED, REPORT_SCORED
from shared.kafka import ensure_topics
from shared.settings import REPO_ROOT, KafkaSettings
from services.decision.audit.models import AuditEvent
from services.decision.cases.models import CaseReport
from tests.support.databases import PG, drop_pg_database, new_pg_database, make_runtime
from tests.integration.test_decision_service import received, scored

pytestmark = [pytest.mark.broker, pytest.mark.e2e,
              pytest.mark.skipif(not PG, reason="replicas share PostgreSQL")]

REPORTS = 300


def start_worker(url: str, log_path) -> subprocess.Popen:
    env = {**os.environ, "MODQ_DECISION_DATABASE_URL": url, "PYTHONUNBUFFERED": "1", "MODQ_DECISION_BATCH_SIZE": "16"}
    return subprocess.Popen([sys.executable, "-m", "services.decision", "worker"], env=env, cwd=REPO_ROOT,
                            stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
                            start_new_session=True)


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def counts(runtime) -> tuple[int, int, int]:
    with runtime.db.sessions() as s:
        reports = s.scalar(sa.select(sa.func.count()).select_from(CaseReport).where(CaseReport.score.is_not(None)))
        audit = dict(s.execute(sa.select(AuditEvent.event_type, sa.func.count()).group_by(AuditEvent.event_type)).all())
    return reports, audit.get("report.received", 0), audit.get("report.scored", 0)


@pytest.fixture
def pg_decision():
    url = new_pg_database()
    try:
        yield make_runtime("decision", url)
    finally:
        drop_pg_database(url)


def test_kill_9_of_one_of_two_decision_workers_loses_and_duplicates_nothing(broker, topics, pg_decision, tmp_path):
    ensure_topics(KafkaSettings.from_env(), [REPORT_RECEIVED.topic, REPORT_SCORED.topic], partitions=4)
    logs = [tmp_path / "decision-worker-a.log", tmp_path / "decision-worker-b.log"]
    workers = [start_worker(pg_decision.db.url, path) for path in logs]
    try:
        # Both replicas own partitions before the stream starts.
        assert wait_for(lambda: all(p.exists() and "reports.received" in p.read_text() for p in logs), 90), \
            [p.read_text()[-2000:] for p in logs if p.exists()]
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
        sent = threading.Event()

        def stream():
            for i in range(REPORTS):
                case_id = f"case-{i % 30}"
                report = received(case_id=case_id, kind="report", reporter=f"r-{i}")
                report.data["post"]["id"] = f"post-{case_id}"
                producer.send(REPORT_RECEIVED.topic, key=case_id.encode(), value=report.to_json())
                producer.send(REPORT_SCORED.topic, key=case_id.encode(),
                              value=scored(report.data["report_id"], case_id).to_json())
                time.sleep(0.01)
            producer.flush()
            sent.set()

        feeder = threading.Thread(target=stream, daemon=True)
        feeder.start()
        assert wait_for(lambda: counts(pg_decision)[0] >= REPORTS // 4, 60), counts(pg_decision)
        logged_before_kill = len(logs[1].read_bytes())
        workers[0].send_signal(signal.SIGKILL)  # mid-stream, mid-batch as it happens
        workers[0].wait(10)
        assert sent.wait(60)
        assert wait_for(lambda: counts(pg_decision)[0] >= REPORTS, 90), counts(pg_decision)
        time.sleep(3)  # anything replayed after the rebalance has had its chance to apply twice
        assert counts(pg_decision) == (REPORTS, REPORTS, REPORTS)
        after_kill = logs[1].read_bytes()[logged_before_kill:].decode()
        # The survivor logs the rebalance with how long it took and the partitions it now holds:
        # all four of each topic.
        # The worker runs one consumer group per stream (appeals have their own), so each group's
        # last rebalance is read on its own and the survivor's holdings are their union.
        rebalances = re.findall(r"consumer (\S+): rebalance took (\d+\.\d\d) s; assigned ([^\"\s]+)", after_kill)
        assert rebalances, after_kill[-3000:]
        last_per_group = {group: (took, assigned) for group, took, assigned in rebalances}
        assert all(float(took) < 60 for took, _ in last_per_group.values())  # printed to the hundredth
        held = {tp for _, assigned in last_per_group.values() for tp in assigned.split(",")}
        for topic in (REPORT_RECEIVED.topic, REPORT_SCORED.topic):
            assert {f"{topic}/{p}" for p in range(4)} <= held, last_per_group
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in workers:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
