"""Running the notifier worker as its own process on given topics and database, publishing
events to it and reading its notices back: used by the benchmark and the stream tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from shared.events import Envelope, parse_event
from shared.kafka import ensure_topics, make_producer
from shared.settings import DEFAULT_TOPICS, REPO_ROOT, KafkaSettings


def fresh_topics(suffix: str | None = None) -> dict[str, str]:
    suffix = suffix or uuid.uuid4().hex[:8]
    return {key: f"{name}.{suffix}" for key, name in DEFAULT_TOPICS.items()}


@dataclass
class NotifierProcess:
    """One ``python -m services.notifier worker`` process; kill -9 and restart at will."""

    bootstrap: str
    database_url: str
    topics: dict[str, str]
    log_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "MODQ_NOTIFIER_DATABASE_URL": self.database_url,
               "PYTHONUNBUFFERED": "1", "MODQ_LOG_LEVEL": "WARNING",
               # the embedded broker joins a new group in ~session_timeout/2
               "MODQ_KAFKA_SESSION_TIMEOUT_MS": "2000", "MODQ_KAFKA_HEARTBEAT_INTERVAL_MS": "500"}
        env.update({f"MODQ_TOPIC_{key.upper()}": name for key, name in self.topics.items()})
        env.update(self.extra_env)
        return env

    def migrate(self) -> None:
        subprocess.run([sys.executable, "-m", "services.notifier", "migrate"], env=self.env(), cwd=REPO_ROOT,
                       check=True, stdout=subprocess.DEVNULL)

    def start(self) -> "NotifierProcess":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "services.notifier", "worker"], env=self.env(),
                                        cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self

    def kill_9(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill_9()


def kafka_settings(bootstrap: str) -> KafkaSettings:
    base = KafkaSettings.from_env()
    return KafkaSettings(bootstrap, base.session_timeout_ms, base.heartbeat_interval_ms, base.client_id_prefix)


def create_topics(bootstrap: str, topics: dict[str, str]) -> None:
    ensure_topics(kafka_settings(bootstrap), topics.values())


class Publisher:
    def __init__(self, bootstrap: str):
        self.producer = make_producer(kafka_settings(bootstrap), "notifier-harness")

    def send(self, topic: str, envelope: Envelope, key: str | None = None) -> None:
        self.producer.send(topic, key=key or envelope.subject, value=envelope.to_json())

    def flush(self) -> None:
        self.producer.flush(timeout=60)

    def close(self) -> None:
        self.producer.close(timeout=10)


class TopicReader:
    """Reads whole topics from the beginning without a consumer group (no join wait)."""

    def __init__(self, bootstrap: str, topic_names: list[str]):
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                      auto_offset_reset="earliest", consumer_timeout_ms=1000)
        partitions = []
        for name in topic_names:
            for p in self._partitions(name):
                partitions.append(TopicPartition(name, p))
        self.consumer.assign(partitions)
        self.consumer.seek_to_beginning(*partitions)

    def _partitions(self, name: str, wait: float = 10.0) -> set[int]:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            found = self.consumer.partitions_for_topic(name)
            if found:
                return found
            time.sleep(0.1)
        raise RuntimeError(f"topic {name} has no partitions")

    def poll(self, timeout_ms: int = 200) -> list[tuple[str, Envelope, float]]:
        """(topic, event, arrival monotonic-free wall time) for every record polled now."""
        polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=5000)
        now = time.time()
        return [(r.topic, parse_event(r.value), now) for batch in polled.values() for r in batch]

    def close(self) -> None:
        self.consumer.close()
