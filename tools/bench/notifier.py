"""Benchmark (not a test): decision recorded → notice readable on its topic.

    python -m services.notifier bench [--rate 100] [--seconds 30]

Starts the embedded broker, a fresh SQLite database and the notifier worker as its own
process; publishes final ``remove`` decisions (one deletion request each, so each gives an
N1 to the requester and an N4 to the poster) at a steady rate, and times every notice from
the decision's ``decided_at`` to the moment a reader sees it on its topic. Target: p95 < 1 s
at 100 decisions/s sustained.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from shared import clock
from tools.broker import EmbeddedBroker
from shared.events import DECISION_RECORDED, make_event
from tools.stats import percentile
from tools.notifier_harness import NotifierProcess, Publisher, TopicReader, create_topics, fresh_topics

UTC = dt.timezone.utc
CLAUSE = {"id": "B-1", "version": "2025.1", "title": "ベンチマーク", "text": "ベンチマーク用の基準",
          "published_at": "2025-01-01T00:00:00+09:00"}


def decision_event(n: int) -> tuple[str, object]:
    now = dt.datetime.now(UTC)
    decision_id = str(uuid.uuid4())
    post = {"id": f"bench-post-{n}", "url": f"https://sns.example.jp/posts/{n}", "author_id": f"bench-poster-{n}",
            "text": "ベンチマーク投稿", "posted_at": now.isoformat()}
    data = {"decision_id": decision_id, "case_id": f"bench-case-{n}", "action": "remove", "final": True,
            "measure": "remove", "clause": CLAUSE, "reason": "基準に該当するため", "facts": "ベンチマーク",
            "decided_at": now.isoformat(), "decided_by": "bench", "post": post, "poster": {"id": post["author_id"]},
            "requests": [{"report_id": str(uuid.uuid4()), "kind": "deletion_request",
                          "requester": {"id": f"bench-requester-{n}"},
                          "received_at": (now - dt.timedelta(hours=1)).isoformat()}]}
    return decision_id, make_event(DECISION_RECORDED, source="/bench", subject=data["case_id"], data=data,
                                   id=decision_id, time=now)


class ArrivalClock:
    """Reads notices in a thread and records, per decision, when each notice was seen."""

    def __init__(self, bootstrap: str, topics: dict[str, str]):
        self.reader = TopicReader(bootstrap, [topics["notices_requester"], topics["notices_poster"]])
        self.latencies: list[float] = []
        self.seen: set[str] = set()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            for _topic, event, arrived in self.reader.poll(100):
                if event.id in self.seen:
                    continue
                self.seen.add(event.id)
                decided = clock.parse_instant(event.data["details"].get("decided_at") or event.data["issued_at"])
                self.latencies.append(arrived - decided.timestamp())

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.seen) < count and time.monotonic() < deadline:
            time.sleep(0.05)


def publish_at_rate(publisher: Publisher, topic: str, rate: float, seconds: float) -> tuple[int, float]:
    total = int(rate * seconds)
    start = time.monotonic()
    for n in range(total):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        _id, event = decision_event(n)
        publisher.send(topic, event)
    publisher.flush()
    return total, time.monotonic() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.notifier bench")
    parser.add_argument("--rate", type=float, default=100.0, help="decisions per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to sustain the rate")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir, EmbeddedBroker() as broker:
        return run(broker, Path(workdir), args.rate, args.seconds)


def run(broker: EmbeddedBroker, workdir: Path, rate: float, seconds: float) -> int:
    topics = fresh_topics()
    create_topics(broker.bootstrap, topics)
    worker = NotifierProcess(broker.bootstrap, f"sqlite:///{workdir / 'notifier.db'}", topics, workdir / "worker.log")
    worker.migrate()
    worker.start()
    publisher = Publisher(broker.bootstrap)
    arrivals = ArrivalClock(broker.bootstrap, topics)
    arrivals.thread.start()
    try:
        warm_up(publisher, topics, arrivals)
        arrivals.latencies.clear()
        sent, took = publish_at_rate(publisher, topics["decisions_recorded"], rate, seconds)
        expected = 2 + 2 * sent
        arrivals.wait_for(expected, timeout=120)
        report(rate, seconds, sent, took, expected - 2, arrivals.latencies)
        warnings = [line for line in (workdir / "worker.log").read_text(errors="replace").splitlines()
                    if '"WARNING"' in line or '"ERROR"' in line]
        print(f"worker warnings/errors during the run: {len(warnings)}"
              + (f" (first: {warnings[0][:300]})" if warnings else ""))
    finally:
        arrivals.stopping.set()
        arrivals.thread.join(5)
        publisher.close()
        worker.stop()
    return 0


def warm_up(publisher: Publisher, topics: dict[str, str], arrivals: ArrivalClock) -> None:
    """One decision first, so the worker's consumer group has joined before timing starts."""
    _id, event = decision_event(-1)
    publisher.send(topics["decisions_recorded"], event)
    publisher.flush()
    arrivals.wait_for(2, timeout=60)


def report(rate, seconds, sent, took, expected, latencies) -> None:
    ms = [v * 1000 for v in latencies]
    load = os.getloadavg()
    print(f"notifier bench: {sent} decisions at {rate:g}/s for {seconds:g} s "
          f"(published in {took:.1f} s = {sent / took:.1f}/s); machine: {os.cpu_count()} CPUs, "
          f"load average {load[0]:.1f}")
    print(f"notices expected {expected}, seen {len(ms)} (N1 + N4 per decision)")
    if ms:
        print(f"decision recorded → notice readable: p50 {percentile(ms, 50):.0f} ms, p95 {percentile(ms, 95):.0f} ms, "
              f"p99 {percentile(ms, 99):.0f} ms, max {max(ms):.0f} ms, mean {statistics.fmean(ms):.0f} ms")
        verdict = "met" if percentile(ms, 95) < 1000 and len(ms) >= expected else "NOT met"
        print(f"target p95 < 1000 ms with every notice delivered: {verdict}")
