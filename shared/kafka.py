"""Kafka adapters (kafka-python): a producer factory, a batching consumer loop that
dead-letters what it cannot parse, and a broker health probe."""
from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Callable, Iterable

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from prometheus_client import Counter, Gauge

from shared.db import utcnow
from shared.events import Envelope, InvalidEvent, parse_event
from shared.settings import KafkaSettings, topic

log = logging.getLogger(__name__)


def make_producer(kafka: KafkaSettings, client_id: str, wait_seconds: float = 60.0) -> KafkaProducer:
    """A producer with acks=all. Idempotence is off on purpose: after a broker loses its state
    (an in-memory development broker restarting) an idempotent producer stays broken, while
    duplicates are harmless here because every consumer is idempotent."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return KafkaProducer(
                **kafka.client_options(),
                client_id=f"{kafka.client_id_prefix}-{client_id}",
                acks="all",
                enable_idempotence=False,
                retries=10,
                linger_ms=2,
                max_block_ms=10000,
                request_timeout_ms=10000,
                key_serializer=lambda k: k.encode("utf-8") if isinstance(k, str) else k,
            )
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("broker not reachable yet (%s); retrying", exc)
            time.sleep(1.0)


def make_consumer(kafka: KafkaSettings, group_id: str, topics: Iterable[str], client_id: str,
                  max_poll_records: int = 500) -> KafkaConsumer:
    return KafkaConsumer(
        *topics,
        **kafka.client_options(),
        client_id=f"{kafka.client_id_prefix}-{client_id}",
        group_id=group_id,
        enable_auto_commit=False,
        # LATEST is unreliable on the development broker, and an event must never be skipped.
        auto_offset_reset="earliest",
        session_timeout_ms=kafka.session_timeout_ms,
        heartbeat_interval_ms=kafka.heartbeat_interval_ms,
        max_poll_records=max_poll_records,
        metadata_max_age_ms=5000,
    )


def ensure_topics(kafka: KafkaSettings, names: Iterable[str], partitions: int = 4) -> None:
    admin = KafkaAdminClient(**kafka.client_options(), request_timeout_ms=10000)
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            try:
                admin.create_topics([NewTopic(n, partitions, 1) for n in missing])
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


class BrokerProbe:
    """Answers 'does the broker answer?' for /healthz, cached for a few seconds."""

    def __init__(self, kafka: KafkaSettings, ttl: float = 3.0):
        self.kafka = kafka
        self.ttl = ttl
        self._checked_at = 0.0
        self._ok = False
        self._lock = threading.Lock()

    def ok(self) -> bool:
        with self._lock:
            if time.monotonic() - self._checked_at < self.ttl:
                return self._ok
            try:
                admin = KafkaAdminClient(**self.kafka.client_options(), request_timeout_ms=2000)
                try:
                    admin.list_topics()
                    self._ok = True
                finally:
                    admin.close()
            except Exception:
                self._ok = False
            self._checked_at = time.monotonic()
            return self._ok


BatchHandler = Callable[[list[Envelope]], None]

EVENTS_HANDLED = Counter("modq_events_handled_total", "Events handled by a consumer group", ["group"])
EVENTS_DEAD_LETTERED = Counter("modq_events_dead_lettered_total", "Messages sent to the dead-letter topic",
                               ["group"])
CONSUMER_LAG = Gauge("modq_consumer_lag", "Messages not yet consumed (high watermark - position)",
                     ["group", "topic", "partition"])


class EventConsumer:
    """Polls topics, parses CloudEvents, hands valid ones to ``handler`` in batches and commits
    offsets only after the handler returned. Invalid messages go to the dead-letter topic with
    the reason and the loop keeps going. If the handler fails (database down), the batch is
    retried after a pause; handlers are idempotent through the inbox."""

    def __init__(self, kafka: KafkaSettings, *, group_id: str, topics: list[str], handler: BatchHandler,
                 producer: KafkaProducer, client_id: str, expected_types: tuple[str, ...] | None = None,
                 batch_size: int = 64, batch_ms: int = 50, on_invalid: Callable[[dict], None] | None = None):
        self.kafka = kafka
        self.group_id = group_id
        self.topics = topics
        self.handler = handler
        self.producer = producer
        self.client_id = client_id
        self.expected_types = expected_types
        self.batch_size = batch_size
        self.batch_ms = batch_ms
        self.on_invalid = on_invalid
        self.stopping = threading.Event()
        self.consumer: KafkaConsumer | None = None
        self.handled = 0
        self.dead_lettered = 0

    def _connect(self) -> KafkaConsumer:
        while not self.stopping.is_set():
            try:
                return make_consumer(self.kafka, self.group_id, self.topics, self.client_id,
                                     max_poll_records=self.batch_size)
            except KafkaError as exc:
                log.warning("consumer cannot connect yet (%s); retrying", exc)
                time.sleep(1.0)
        raise SystemExit(0)

    def dead_letter(self, record, reason: str) -> None:
        body = {
            "reason": reason,
            "group": self.group_id,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "at": utcnow().isoformat(),
            "value_base64": base64.b64encode(record.value or b"").decode("ascii")[:200_000],
        }
        log.warning("dead-lettered %s/%s@%s: %s", record.topic, record.partition, record.offset, reason)
        self.producer.send(topic("deadletter"), key=record.topic,
                           value=json.dumps(body, ensure_ascii=False).encode("utf-8")).get(timeout=30)
        self.dead_lettered += 1
        EVENTS_DEAD_LETTERED.labels(self.group_id).inc()
        if self.on_invalid:
            self.on_invalid(body)

    def poll_once(self, timeout_ms: int | None = None) -> int:
        consumer = self.consumer
        polled = consumer.poll(timeout_ms=timeout_ms if timeout_ms is not None else self.batch_ms,
                               max_records=self.batch_size)
        records = [r for batch in polled.values() for r in batch]
        if not records:
            return 0
        envelopes: list[Envelope] = []
        for record in records:
            try:
                envelopes.append(parse_event(record.value, self.expected_types))
            except InvalidEvent as exc:
                self.dead_letter(record, str(exc))
        try:
            if envelopes:
                self.handler(envelopes)
        except Exception:
            # Rewind to the first record of each partition in this batch and try again later.
            log.exception("handler failed; the batch will be retried")
            firsts: dict[TopicPartition, int] = {}
            for record in records:
                tp = TopicPartition(record.topic, record.partition)
                firsts[tp] = min(firsts.get(tp, record.offset), record.offset)
            for tp, offset in firsts.items():
                consumer.seek(tp, offset)
            time.sleep(1.0)
            return 0
        consumer.commit()
        self.handled += len(envelopes)
        EVENTS_HANDLED.labels(self.group_id).inc(len(envelopes))
        return len(records)

    def record_lag(self) -> None:
        """Lag from the high watermarks the fetches report (ListOffsets is not used: it is
        unreliable on the development broker)."""
        consumer = self.consumer
        if consumer is None:
            return
        try:
            for tp in consumer.assignment():
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(
                        max(0, highwater - consumer.position(tp, timeout_ms=1000)))
        except Exception:  # a rebalance in progress; the next sample will do
            pass

    def run_forever(self) -> None:
        self.consumer = self._connect()
        try:
            while not self.stopping.is_set():
                try:
                    self.poll_once()
                except KafkaError as exc:
                    log.warning("consumer error: %s", exc)
                    time.sleep(1.0)
        finally:
            try:
                self.consumer.close(autocommit=False)
            except Exception:
                pass

    def stop(self) -> None:
        self.stopping.set()
