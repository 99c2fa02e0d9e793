"""Intake's worker: the Kafka path for submissions and the outbox relay.

A ``jp.modq.report.submitted.v1`` event carries the HTTP body as its ``data`` and gets the
same validation and the same result as ``POST /v1/reports``; its CloudEvent id is the
idempotency key and its source names the client (``kafka:<source>``). What cannot be
accepted goes to the dead-letter topic with the reason; nothing is dropped silently.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

from marshmallow import ValidationError
from sqlalchemy.exc import DataError

from shared.db import utcnow
from shared.events import REPORT_SUBMITTED, Envelope
from shared.runtime import Runtime, Worker
from shared.settings import env_int, topic
from services.intake.batching import GroupCommit, group_commit_for
from services.intake.domain import Accepted, Submission
from services.intake.models import Report
from services.intake.schemas import MAX_IDEMPOTENCY_KEY, ReportSubmissionSchema
from services.intake.retention import apply_retention
from services.intake.service import purge_expired_signatures

log = logging.getLogger(__name__)

KAFKA_CLIENT_PREFIX = "kafka:"
MAX_CLIENT_ID = Report.__table__.c.client_id.type.length
SUBMISSION_SCHEMA = ReportSubmissionSchema()


@dataclass
class Rejected(Exception):
    """A submission event that can never be accepted as it is (retrying would not help)."""

    reason: str
    fields: dict = field(default_factory=dict)


def receipt_time(env: Envelope, now: dt.datetime) -> dt.datetime:
    """The §22 time of receipt of a submission sent through Kafka: the event's own ``time``
    (when the SNS handed it over), not when this consumer got to it, so consumer lag never
    moves the receipt time or the §25 deadline. Bounded, because the producer's clock is not
    ours: at most MODQ_KAFKA_RECEIPT_CLOCK_SKEW_SECONDS (5) ahead of our clock (taken as now),
    at most MODQ_KAFKA_RECEIPT_MAX_AGE_SECONDS (86400) old; otherwise refused."""
    at = env.time
    if at is None or at.tzinfo is None:
        raise Rejected("event time must be a date-time with a UTC offset", {"time": ["missing or naive"]})
    at = at.astimezone(dt.timezone.utc)
    skew = dt.timedelta(seconds=env_int("MODQ_KAFKA_RECEIPT_CLOCK_SKEW_SECONDS", 5))
    max_age = dt.timedelta(seconds=env_int("MODQ_KAFKA_RECEIPT_MAX_AGE_SECONDS", 86400))
    if at > now + skew:
        raise Rejected(f"event time {at.isoformat()} is in the future", {"time": ["in the future"]})
    if at < now - max_age:
        raise Rejected(f"event time {at.isoformat()} is older than {int(max_age.total_seconds())} s",
                       {"time": ["too old"]})
    return min(at, now)


def submission_from_event(env: Envelope, now: dt.datetime | None = None) -> Submission:
    """Validate a submission event exactly like the HTTP body; raise Rejected for input that
    must go to the dead-letter topic."""
    client_id = KAFKA_CLIENT_PREFIX + (env.source or "")
    if not env.id or len(env.id) > MAX_IDEMPOTENCY_KEY:
        raise Rejected(f"event id must be 1–{MAX_IDEMPOTENCY_KEY} characters (it is the idempotency key)")
    if len(client_id) > MAX_CLIENT_ID:
        raise Rejected(f"event source must be at most {MAX_CLIENT_ID - len(KAFKA_CLIENT_PREFIX)} characters")
    try:
        payload = SUBMISSION_SCHEMA.load(env.data)
    except ValidationError as exc:
        raise Rejected("invalid submission", exc.messages) from None
    return Submission(payload, client_id, env.id, "kafka", receipt_time(env, now or utcnow()))


def accept_submitted_events(writer: GroupCommit, envelopes: list[Envelope]) -> list[Accepted | Rejected]:
    """Validate a poll's submission events and store the valid ones through the group commit,
    the same write path as the API's (the event id is the idempotency key, so a batch that
    comes again stores nothing twice). Database outages raise, so the consumer retries the
    batch; values the database refuses reject that event alone."""
    outcomes: list[Accepted | Rejected | None] = [None] * len(envelopes)
    valid: list[tuple[int, Submission]] = []
    now = utcnow()
    for i, env in enumerate(envelopes):
        try:
            valid.append((i, submission_from_event(env, now)))
        except Rejected as rejected:
            outcomes[i] = rejected
    stored = writer.submit_all([s for _, s in valid]) if valid else []
    for (i, submission), outcome in zip(valid, stored):
        if isinstance(outcome, DataError):
            # The database refused a batch's values: this one alone, to find whether it is the one.
            (outcome,) = writer.submit_all([submission])
            if isinstance(outcome, DataError):  # the values themselves: a retry fails the same way
                outcome = Rejected(f"refused by the database: {outcome.orig.__class__.__name__}")
        if isinstance(outcome, Exception) and not isinstance(outcome, Rejected):
            raise outcome
        outcomes[i] = outcome
    return outcomes


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
    writer = group_commit_for(runtime.db)

    def handle(envelopes: list[Envelope]) -> None:
        # If the database fails the whole batch comes again: stored events are then
        # recognised by their key, rejected ones may be dead-lettered a second time.
        for env, outcome in zip(envelopes, accept_submitted_events(writer, envelopes)):
            if isinstance(outcome, Rejected):
                log.warning("submission %s dead-lettered: %s", env.id, outcome.reason)
                worker.producer.send(topic("deadletter"), key=env.id,
                                     value=dead_letter_body(env, outcome)).get(timeout=30)

    worker.consume(group_id="modq-intake", topics=[topic("reports_submitted")], handler=handle,
                   expected_types=(REPORT_SUBMITTED,))
    worker.every("purge-signatures", 60.0, lambda: purge_expired_signatures(runtime.db))
    worker.every("retention", 3600.0, lambda: apply_retention(runtime.db))
    return worker
