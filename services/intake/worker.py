"""Intake's worker: the Kafka path for submissions and the outbox relay.

A ``jp.modq.report.submitted.v1`` event carries the HTTP body as its ``data`` and gets the
same validation and the same result as ``POST /v1/reports``; its CloudEvent id is the
idempotency key and its source names the client (``kafka:<source>``). What cannot be
accepted goes to the dead-letter topic with the reason; nothing is dropped silently.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from marshmallow import ValidationError
from sqlalchemy.exc import DataError

from shared.db import Database, utcnow
from shared.events import REPORT_SUBMITTED, Envelope
from shared.runtime import Runtime, Worker
from shared.settings import topic
from services.intake.models import Report
from services.intake.schemas import MAX_IDEMPOTENCY_KEY, ReportSubmissionSchema
from services.intake.service import Accepted, purge_expired_signatures, submit_report

log = logging.getLogger(__name__)

KAFKA_CLIENT_PREFIX = "kafka:"
MAX_CLIENT_ID = Report.__table__.c.client_id.type.length


@dataclass
class Rejected(Exception):
    """A submission event that can never be accepted as it is (retrying would not help)."""

    reason: str
    fields: dict = field(default_factory=dict)


def accept_submitted_event(db: Database, env: Envelope) -> Accepted:
    """Validate and store one submission event exactly like the HTTP path; raise Rejected
    for input that must go to the dead-letter topic. Database outages propagate, so the
    consumer retries the batch (the idempotency key makes the retry harmless)."""
    client_id = KAFKA_CLIENT_PREFIX + (env.source or "")
    if not env.id or len(env.id) > MAX_IDEMPOTENCY_KEY:
        raise Rejected(f"event id must be 1–{MAX_IDEMPOTENCY_KEY} characters (it is the idempotency key)")
    if len(client_id) > MAX_CLIENT_ID:
        raise Rejected(f"event source must be at most {MAX_CLIENT_ID - len(KAFKA_CLIENT_PREFIX)} characters")
    try:
        payload = ReportSubmissionSchema().load(env.data)
    except ValidationError as exc:
        raise Rejected("invalid submission", exc.messages) from None
    try:
        return submit_report(db, payload, client_id=client_id, idempotency_key=env.id, source="kafka")
    except DataError as exc:  # the database refused the values themselves: a retry fails the same way
        raise Rejected(f"refused by the database: {exc.orig.__class__.__name__}") from None


def dead_letter_body(env: Envelope, rejected: Rejected) -> bytes:
    body = {
        "reason": rejected.reason,
        "fields": rejected.fields,
        "event_id": env.id,
        "source": env.source,
        "type": env.type,
        "topic": topic("reports_submitted"),
        "at": utcnow().isoformat(),
        "event": json.loads(env.to_json()),  # enough to fix and send again
    }
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def build_worker(runtime: Runtime) -> Worker:
    worker = Worker(runtime)

    def handle(envelopes: list[Envelope]) -> None:
        # If the database fails midway the whole batch comes again: stored events are then
        # recognised by their key, rejected ones may be dead-lettered a second time.
        for env in envelopes:
            try:
                accept_submitted_event(runtime.db, env)
            except Rejected as rejected:
                log.warning("submission %s dead-lettered: %s", env.id, rejected.reason)
                worker.producer.send(topic("deadletter"), key=env.id,
                                     value=dead_letter_body(env, rejected)).get(timeout=30)

    worker.consume(group_id="modq-intake", topics=[topic("reports_submitted")], handler=handle,
                   expected_types=(REPORT_SUBMITTED,))
    worker.every("purge-signatures", 60.0, lambda: purge_expired_signatures(runtime.db))
    return worker
