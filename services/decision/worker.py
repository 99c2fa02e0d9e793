"""Decision worker: projects received reports and scores into cases, keeps the §25 clock's
priority fresh, and relays the outbox."""
from __future__ import annotations

from shared.events import ALERT, REPORT_RECEIVED, REPORT_SCORED
from shared.runtime import Runtime, Worker
from services.decision.service import handle_events, refresh_clocks


def build_worker(runtime: Runtime) -> Worker:
    worker = Worker(runtime)
    worker.consume(group_id="modq-decision", topics=[REPORT_RECEIVED.topic, REPORT_SCORED.topic, ALERT.topic],
                   handler=lambda batch: handle_events(runtime.db, batch),
                   expected_types=(REPORT_RECEIVED.name, REPORT_SCORED.name, ALERT.name))
    worker.every("refresh-clocks", 60.0, lambda: refresh_clocks(runtime.db))
    return worker
