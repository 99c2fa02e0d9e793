"""Decision worker: projects received reports and scores into cases, tracks poster inquiries
(delivery receipts and the posters' replies), takes in posters' appeals, keeps the §25 clock's priority fresh, publishes
the audit log's head, removes personal data and preserved posts past their retention periods (never under a legal
hold), sends new urgent cases to the operator's webhook when one is set, and relays the outbox. What each event does: services/decision/handlers.py (HANDLERS)."""
from __future__ import annotations

import datetime as dt

from shared.events import APPEAL_SUBMITTED
from shared.runtime import Runtime, Worker
from shared.settings import env_float
from services.decision.alerts import domain as alert_rules
from services.decision.alerts.service import deliver_due
from services.decision.audit.chain import publish_head
from services.decision.audit.service import handle_appeal_events
from services.decision.cases.projection import refresh_clocks, resolve_pending_scores
from services.decision.cases.retention import apply_retention
from services.decision.handlers import EVENT_TYPES, TOPICS, handle_events


def build_worker(runtime: Runtime) -> Worker:
    worker = Worker(runtime)
    worker.consume(group_id="modq-decision", topics=list(TOPICS),
                   handler=lambda batch: handle_events(runtime.db, batch), expected_types=EVENT_TYPES)
    # Appeals get their own consumer group: a refused appeal never holds up the case projection.
    worker.consume(group_id="modq-decision-appeals", topics=[APPEAL_SUBMITTED.topic],
                   handler=lambda batch: handle_appeal_events(runtime.db, batch),
                   expected_types=(APPEAL_SUBMITTED.name,))
    worker.every("refresh-clocks", 60.0, lambda: refresh_clocks(runtime.db))
    # The audit log's head leaves the database regularly (services/decision/audit/chain.py).
    worker.every("publish-audit-head", env_float("MODQ_AUDIT_HEAD_SECONDS", 60.0), lambda: publish_head(runtime.db))
    worker.every("retention", env_float("MODQ_RETENTION_CHECK_SECONDS", 3600.0), lambda: apply_retention(runtime.db))
    # Scores held until their report arrives: applied on the next pass, parked after the wait.
    max_wait = dt.timedelta(seconds=runtime.settings.pending_max_seconds)
    worker.every("pending-scores", 10.0,
                 lambda: resolve_pending_scores(runtime.db, max_wait, on_parked=worker.dead_letter_parked))
    # New urgent cases to the operator's webhook, when one is set (a bad setting stops the start).
    webhook = alert_rules.webhook_settings()
    if webhook is not None:
        worker.every("urgent-webhook", env_float("MODQ_URGENT_WEBHOOK_SECONDS", 10.0),
                     lambda: deliver_due(runtime.db, webhook))
    return worker
