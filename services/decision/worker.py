"""Decision worker: projects received reports and scores into cases, tracks poster inquiries
(delivery receipts and the posters' replies), takes in posters' appeals, keeps the §25 clock's priority fresh, and relays
the outbox."""
from __future__ import annotations

from shared.events import ALERT, APPEAL_SUBMITTED, INQUIRY_DELIVERED, POSTER_REPLY, REPORT_RECEIVED, REPORT_SCORED
from shared.runtime import Runtime, Worker
from services.decision.duties import erase_expired_evidence
from services.decision.service import handle_events, refresh_clocks
from services.decision.audit.service import handle_appeal_events


def build_worker(runtime: Runtime) -> Worker:
    worker = Worker(runtime)
    worker.consume(group_id="modq-decision",
                   topics=[REPORT_RECEIVED.topic, REPORT_SCORED.topic, ALERT.topic, INQUIRY_DELIVERED.topic,
                           POSTER_REPLY.topic],
                   handler=lambda batch: handle_events(runtime.db, batch),
                   expected_types=(REPORT_RECEIVED.name, REPORT_SCORED.name, ALERT.name,
                                   INQUIRY_DELIVERED.name, POSTER_REPLY.name))
    # Appeals get their own consumer group: a refused appeal never holds up the case projection.
    worker.consume(group_id="modq-decision-appeals", topics=[APPEAL_SUBMITTED.topic],
                   handler=lambda batch: handle_appeal_events(runtime.db, batch),
                   expected_types=(APPEAL_SUBMITTED.name,))
    worker.every("refresh-clocks", 60.0, lambda: refresh_clocks(runtime.db))
    worker.every("erase-expired-evidence", 3600.0, lambda: erase_expired_evidence(runtime.db))
    return worker
