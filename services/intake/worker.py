"""Intake's worker: the Kafka path for submissions and the outbox relay."""
from __future__ import annotations

import logging

from marshmallow import ValidationError

from shared.events import REPORT_SUBMITTED, Envelope
from shared.runtime import Runtime, Worker
from shared.settings import topic
from services.intake.schemas import ReportSubmissionSchema
from services.intake.service import purge_expired_signatures, submit_report

log = logging.getLogger(__name__)


def build_worker(runtime: Runtime) -> Worker:
    worker = Worker(runtime)

    def handle(envelopes: list[Envelope]) -> None:
        for env in envelopes:
            try:
                payload = ReportSubmissionSchema().load(env.data)
            except ValidationError as exc:
                worker.consumers[0].producer.send(topic("deadletter"), key=env.id, value=_dlq(env, exc.messages)).get(30)
                continue
            # The CloudEvent id is the idempotency key on this path; the source names the client.
            submit_report(runtime.db, payload, client_id=f"kafka:{env.source}", idempotency_key=env.id,
                          source="kafka")

    worker.consume(group_id="modq-intake", topics=[topic("reports_submitted")], handler=handle,
                   expected_types=(REPORT_SUBMITTED,))
    worker.every("purge-signatures", 60.0, lambda: purge_expired_signatures(runtime.db))
    return worker


def _dlq(env: Envelope, messages) -> bytes:
    import json

    return json.dumps({"reason": "invalid submission", "fields": messages, "event_id": env.id,
                       "source": env.source, "type": env.type}, ensure_ascii=False).encode("utf-8")
