"""Notifier worker: consumes requests, decisions and delivery receipts; watches the §25 clock;
re-publishes failed notices after their backoff; removes contacts past their retention period."""
from __future__ import annotations

from shared.runtime import Runtime, Worker
from shared.settings import env_float
from services.notifier.deadlines import check_deadlines
from services.notifier.delivery import republish_due
from services.notifier.retention import apply_retention
from services.notifier.service import EVENT_TYPES, handle_events
from shared.events import EVENT_TYPES as KNOWN_TYPES


def build_worker(runtime: Runtime) -> Worker:
    worker = Worker(runtime)

    def handle(batch) -> None:
        handle_events(runtime.db, batch)
        worker.relay.wakeup.set()  # notices just committed: publish them now, not at the next poll

    worker.consume(group_id="modq-notifier", topics=sorted({KNOWN_TYPES[t].topic for t in EVENT_TYPES}),
                   handler=handle, expected_types=EVENT_TYPES)
    worker.every("s25-clock", env_float("MODQ_CLOCK_CHECK_SECONDS", 30.0), lambda: check_deadlines(runtime.db))
    worker.every("notice-retries", env_float("MODQ_NOTICE_RETRY_CHECK_SECONDS", 10.0),
                 lambda: republish_due(runtime.db))
    worker.every("retention", env_float("MODQ_RETENTION_CHECK_SECONDS", 3600.0), lambda: apply_retention(runtime.db))
    return worker
