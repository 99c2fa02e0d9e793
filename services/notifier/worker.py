"""Notifier worker: consumes requests, decisions and delivery receipts; watches the §25 clock."""
from __future__ import annotations

from shared.events import DECISION_RECORDED, NOTICE_RECEIPT, REPORT_RECEIVED
from shared.runtime import Runtime, Worker
from shared.settings import env_float
from services.notifier.service import check_deadlines, handle_events


def build_worker(runtime: Runtime) -> Worker:
    worker = Worker(runtime)
    worker.consume(group_id="modq-notifier",
                   topics=[REPORT_RECEIVED.topic, DECISION_RECORDED.topic, NOTICE_RECEIPT.topic],
                   handler=lambda batch: handle_events(runtime.db, batch),
                   expected_types=(REPORT_RECEIVED.name, DECISION_RECORDED.name, NOTICE_RECEIPT.name))
    worker.every("s25-clock", env_float("MODQ_CLOCK_CHECK_SECONDS", 30.0), lambda: check_deadlines(runtime.db))
    return worker
