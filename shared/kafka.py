"""Kafka adapters (kafka-python): a producer factory, a batching consumer loop that
dead-letters what it cannot parse and parks what it cannot apply, and a broker health probe."""
from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Callable, Iterable

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
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
EVENTS_RETRIED = Counter("modq_event_retries_total", "Retries of single events after their batch failed",
                         ["group"])
CONSUMER_LAG = Gauge("modq_consumer_lag", "Messages not yet consumed (high watermark - position)",
                     ["group", "topic", "partition"])
REBALANCES = Counter("modq_consumer_rebalances_total", "Partition assignments received", ["group"])
REBALANCE_SECONDS = Gauge("modq_consumer_last_rebalance_seconds",
                          "How long the last rebalance took (partitions revoked until assigned)", ["group"])


def is_transient(exc: BaseException) -> bool:
    """Failures of the infrastructure, not of the event: the database or the broker is
    unreachable, locked or timed out. These are retried without limit (nothing is parked
    because the database is down); any other error counts against the event."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, KafkaError,
                        ConnectionError, TimeoutError)):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and bool(exc.connection_invalidated)


class ParkingLot:
    """Where a consumer parks the events it gave up on: its service's ``parked_events``."""

    def __init__(self, db, model):
        self.db = db
        self.model = model

    def park(self, env: Envelope, failure) -> int:
        from shared.parking import park

        return park(self.db, self.model, env, failure)


class _RebalanceLog(ConsumerRebalanceListener):
    """Logs every rebalance with the partitions assigned and how long the group took."""

    def __init__(self, group_id: str):
        self.group_id = group_id
        self.revoked_at: float | None = None
        self.started_at = time.monotonic()

    def on_partitions_revoked(self, revoked):
        self.revoked_at = time.monotonic()
        log.info("consumer %s: rebalance started, %d partitions revoked", self.group_id, len(revoked))

    def on_partitions_assigned(self, assigned):
        took = time.monotonic() - (self.revoked_at if self.revoked_at is not None else self.started_at)
        self.revoked_at = None
        REBALANCES.labels(self.group_id).inc()
        REBALANCE_SECONDS.labels(self.group_id).set(took)
        log.info("consumer %s: rebalance took %.2f s; assigned %s", self.group_id, took,
                 ",".join(sorted(f"{tp.topic}/{tp.partition}" for tp in assigned)) or "nothing")


class _Rewind(Exception):
    """The infrastructure failed while isolating a batch: come back to the unfinished records."""


class EventConsumer:
    """Polls topics, parses CloudEvents, hands valid ones to ``handler`` in batches and commits
    offsets only after the handler returned. Invalid messages go to the dead-letter topic with
    the reason and the loop keeps going.

    If the handler fails on a batch, the failure is either the infrastructure's (database or
    broker unreachable: the batch is retried after a pause, without limit, handlers being
    idempotent through the inbox) or an event's: the batch is then handled one event at a time,
    and an event that still fails after ``max_attempts`` tries (with exponential backoff) is
    parked in the service's database and dead-lettered with the reason, while the rest of the
    batch and of its partition goes on."""

    def __init__(self, kafka: KafkaSettings, *, group_id: str, topics: list[str], handler: BatchHandler,
                 producer: KafkaProducer, client_id: str, expected_types: tuple[str, ...] | None = None,
                 batch_size: int = 64, batch_ms: int = 50, on_invalid: Callable[[dict], None] | None = None,
                 parking: ParkingLot | None = None, max_attempts: int = 3, retry_backoff_ms: int = 100):
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
        self.parking = parking
        self.max_attempts = max(1, max_attempts)
        self.retry_backoff_ms = retry_backoff_ms
        self.stopping = threading.Event()
        self.consumer: KafkaConsumer | None = None
        self.handled = 0
        self.dead_lettered = 0
        self.parked = 0

    def _connect(self) -> KafkaConsumer:
        while not self.stopping.is_set():
            try:
                consumer = make_consumer(self.kafka, self.group_id, (), self.client_id,
                                         max_poll_records=self.batch_size)
                consumer.subscribe(self.topics, listener=_RebalanceLog(self.group_id))
                return consumer
            except KafkaError as exc:
                log.warning("consumer cannot connect yet (%s); retrying", exc)
                time.sleep(1.0)
        raise SystemExit(0)

    def dead_letter(self, record, reason: str, **extra) -> None:
        body = {
            "reason": reason,
            "group": self.group_id,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "at": utcnow().isoformat(),
            **extra,
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
        parsed: list[tuple[object, Envelope]] = []
        for record in records:
            try:
                parsed.append((record, parse_event(record.value, self.expected_types)))
            except InvalidEvent as exc:
                self.dead_letter(record, str(exc))
        try:
            if parsed:
                self.handler([env for _, env in parsed])
        except Exception as exc:
            if is_transient(exc):
                return self._rewind(records, exc)
            log.warning("batch of %d failed (%s: %s); handling its events one by one", len(parsed),
                        type(exc).__name__, exc)
            try:
                self._isolate(parsed)
            except _Rewind as rewind:
                return self._rewind(rewind.args[0], rewind.__cause__)
        consumer.commit()
        self.handled += len(parsed)
        EVENTS_HANDLED.labels(self.group_id).inc(len(parsed))
        return len(records)

    def _rewind(self, records, exc) -> int:
        """Seek back to the first of ``records`` on each partition; retried after a pause."""
        log.warning("handler failed (%s: %s); %d events will be retried", type(exc).__name__, exc, len(records))
        firsts: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            firsts[tp] = min(firsts.get(tp, record.offset), record.offset)
        for tp, offset in firsts.items():
            self.consumer.seek(tp, offset)
        time.sleep(1.0)
        return 0

    def _isolate(self, parsed: list[tuple[object, Envelope]]) -> None:
        """Handle each event alone, in order; park those that keep failing."""
        for i, (record, env) in enumerate(parsed):
            error = self._try_alone(env)
            if error is None:
                continue
            if is_transient(error):
                raise _Rewind([r for r, _ in parsed[i:]]) from error
            try:
                self._park(record, env, error)
            except Exception as exc:  # cannot park it (database down): come back to it
                raise _Rewind([r for r, _ in parsed[i:]]) from exc

    def _try_alone(self, env: Envelope) -> BaseException | None:
        """None once the handler took the event; the last error after ``max_attempts`` tries
        (or the first transient one)."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.handler([env])
                return None
            except Exception as exc:
                if is_transient(exc) or attempt == self.max_attempts:
                    return exc
                EVENTS_RETRIED.labels(self.group_id).inc()
                time.sleep(min(5.0, self.retry_backoff_ms / 1000 * 2 ** (attempt - 1)))
        return None

    def _park(self, record, env: Envelope, error: BaseException) -> None:
        from shared.parking import Failure

        reason = f"{type(error).__name__}: {error}"
        log.error("event %s (%s) parked after %d attempts: %s", env.id, env.type, self.max_attempts, reason)
        key = record.key.decode("utf-8", "replace") if isinstance(record.key, bytes) else record.key
        failure = Failure(group=self.group_id, topic=record.topic, partition=record.partition,
                          offset=record.offset, key=key, error=reason, attempts=self.max_attempts)
        parked_id = self.parking.park(env, failure) if self.parking else None
        self.dead_letter(record, f"parked after {self.max_attempts} attempts: {reason}", event_id=env.id,
                         event_type=env.type, attempts=self.max_attempts, parked_id=parked_id)
        self.parked += 1

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
