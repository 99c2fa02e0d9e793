"""What a service process needs at run time: settings, database, producer, worker threads.

A service has two kinds of process: ``web`` (gunicorn serving the Flask app) and ``worker``
(Kafka consumers, the outbox relay and periodic jobs). Both share the service's database.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from shared.db import Database, migrate, utcnow
from shared.jobs import PeriodicJobMixin, claim_run
from shared.kafka import BrokerProbe, EventConsumer, ParkingLot, make_producer
from shared.outbox import OutboxRelay, backlog, replay
from shared.parking import ParkedEventMixin, dead_letter_row, observe as observe_parked
from shared.settings import ServiceSettings, env

from prometheus_client import Gauge

OUTBOX_BACKLOG = Gauge("modq_outbox_backlog", "Outbox events not yet published")

log = logging.getLogger(__name__)


def configure_logging(service: str) -> None:
    import json

    class JsonFormatter(logging.Formatter):
        def format(self, record):
            body = {"ts": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
                    "level": record.levelname, "service": service, "logger": record.name,
                    "msg": record.getMessage()}
            case_id = getattr(record, "case_id", None)
            if case_id:
                body["case_id"] = case_id
            if record.exc_info:
                body["exc"] = self.formatException(record.exc_info)
            return json.dumps(body, ensure_ascii=False)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("MODQ_LOG_LEVEL", "INFO"))
    logging.getLogger("kafka").setLevel(logging.ERROR)


def sibling_model(model: type, mixin: type) -> type | None:
    """The mapped class built on ``mixin`` in the same declarative registry as ``model`` (a
    service's parked events or periodic jobs beside its outbox); None if it has none."""
    for mapper in model.registry.mappers:
        if issubclass(mapper.class_, mixin):
            return mapper.class_
    return None


@dataclass
class Runtime:
    settings: ServiceSettings
    db: Database
    outbox_model: type
    migrations_dir: Path
    _probe: BrokerProbe | None = field(default=None, repr=False)

    @property
    def parked_model(self) -> type | None:
        return sibling_model(self.outbox_model, ParkedEventMixin)

    @property
    def jobs_model(self) -> type | None:
        return sibling_model(self.outbox_model, PeriodicJobMixin)

    @classmethod
    def for_service(cls, service: str, outbox_model, migrations_dir: Path) -> "Runtime":
        settings = ServiceSettings.for_service(service)
        return cls(settings=settings, db=Database(settings.database_url), outbox_model=outbox_model,
                   migrations_dir=migrations_dir)

    def migrate(self) -> None:
        migrate(self.settings.database_url, self.migrations_dir)

    @property
    def broker(self) -> BrokerProbe:
        if self._probe is None:
            self._probe = BrokerProbe(self.settings.kafka)
        return self._probe

    def health_checks(self) -> dict:
        return {"database": self.db.ping, "broker": self.broker.ok}

    def outbox_backlog(self) -> int:
        return backlog(self.db, self.outbox_model)

    def replay_outbox(self, since: dt.datetime) -> int:
        return replay(self.db, self.outbox_model, since)


@dataclass
class Periodic:
    name: str
    every_seconds: float
    run: Callable[[], None]
    once_across_replicas: bool = True  # False: every replica runs it (its own metrics)


class Worker:
    """Runs a service's consumers, its outbox relay and periodic jobs in threads until
    SIGTERM/SIGINT, then stops them cleanly (offsets are committed only after effects)."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.settings = runtime.settings
        self.producer = make_producer(self.settings.kafka, f"{self.settings.service}-worker")
        self.consumers: list[EventConsumer] = []
        self.periodics: list[Periodic] = []
        self.stopping = threading.Event()
        self.relay = OutboxRelay(runtime.db, runtime.outbox_model, self.producer,
                                 poll_seconds=self.settings.outbox_poll_seconds)

    def consume(self, *, group_id: str, topics: list[str], handler, expected_types=None,
                batch_size: int | None = None, batch_ms: int | None = None) -> EventConsumer:
        # A suffix keeps consumer groups apart when several systems share one broker (tests,
        # staging beside production); production leaves it unset.
        group_id = group_id + (env("MODQ_CONSUMER_GROUP_SUFFIX") or "")
        consumer = EventConsumer(
            self.settings.kafka, group_id=group_id, topics=topics, handler=handler, producer=self.producer,
            client_id=f"{self.settings.service}-{group_id}", expected_types=expected_types,
            batch_size=batch_size or self.settings.consumer_batch_size,
            batch_ms=batch_ms or self.settings.consumer_batch_ms,
            parking=ParkingLot(self.runtime.db, self.runtime.parked_model) if self.runtime.parked_model else None,
            max_attempts=self.settings.consumer_max_attempts,
            retry_backoff_ms=self.settings.consumer_retry_backoff_ms,
        )
        self.consumers.append(consumer)
        return consumer

    def dead_letter_parked(self, row) -> None:
        dead_letter_row(self.producer, row)

    def every(self, name: str, seconds: float, fn: Callable[[], None], once_across_replicas: bool = True) -> None:
        self.periodics.append(Periodic(name, seconds, fn, once_across_replicas))

    @property
    def owner(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    def _periodic_loop(self, job: Periodic) -> None:
        jobs_model = self.runtime.jobs_model if job.once_across_replicas else None
        # With a shared schedule, check four times per interval: the database decides who runs.
        pause = max(0.05, job.every_seconds / 4) if jobs_model else job.every_seconds
        every = dt.timedelta(seconds=job.every_seconds)
        while not self.stopping.wait(pause):
            try:
                if jobs_model and not claim_run(self.runtime.db, jobs_model, job.name, every, self.owner):
                    continue
                job.run()
            except Exception:
                log.exception("periodic job %s failed", job.name)

    def _observe(self) -> None:
        OUTBOX_BACKLOG.set(self.runtime.outbox_backlog())
        if self.runtime.parked_model:
            observe_parked(self.runtime.db, self.runtime.parked_model, utcnow())
        for consumer in self.consumers:
            consumer.record_lag()

    def serve_metrics(self) -> None:
        """Workers have no HTTP app: expose their metrics on their own port when configured."""
        port = env(f"MODQ_{self.settings.service.upper()}_WORKER_METRICS_PORT")
        if port:
            from prometheus_client import start_http_server

            start_http_server(int(port), addr=env("MODQ_BIND_HOST", "127.0.0.1"))

    def run(self) -> None:
        self.serve_metrics()
        self.every("observe", 5.0, self._observe, once_across_replicas=False)

        def _stop(signum, _frame):
            log.info("signal %s: stopping", signum)
            self.stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        threads = [threading.Thread(target=self.relay.run_forever, name="outbox-relay", daemon=True)]
        threads += [threading.Thread(target=c.run_forever, name=f"consumer-{c.group_id}", daemon=True)
                    for c in self.consumers]
        threads += [threading.Thread(target=self._periodic_loop, args=(p,), name=p.name, daemon=True)
                    for p in self.periodics]
        for t in threads:
            t.start()
        log.info("%s worker running: %d consumers, %d periodic jobs", self.settings.service,
                 len(self.consumers), len(self.periodics))
        while not self.stopping.is_set():
            self.stopping.wait(0.5)
        for t in threads:
            t.join(timeout=10)
        try:
            self.producer.flush(timeout=5)
            self.producer.close(timeout=5)
        except Exception:
            pass

    def stop(self) -> None:
        self.stopping.set()
        self.relay.stop()
        for c in self.consumers:
            c.stop()
