"""The event contract: CloudEvents 1.0 envelopes around versioned marshmallow payloads.

Every event has a stable ``id`` (re-publishing an event re-sends the same id, so consumers
can drop what they have already processed), a ``type`` such as
``jp.modq.report.received.v1``, and the case id as ``subject``.
docs/events.md and docs/asyncapi.yaml describe each type with an example.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from dataclasses import dataclass
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from marshmallow import Schema, ValidationError

from shared.settings import topic

_FORMAT = JSONFormat()
NAMESPACE = uuid.UUID("5f0a1c3e-6d0b-4c1e-9a57-6d6f64712e6a")  # uuid5 namespace for stable ids

MAX_EVENT_BYTES = 1_000_000


def stable_id(*parts: object) -> str:
    """A deterministic id: the same inputs always give the same id (idempotent re-publication)."""
    return str(uuid.uuid5(NAMESPACE, "|".join(str(p) for p in parts)))


from shared.event_schemas import (  # noqa: F401  (the payload schemas, re-exported: one import for the contract)
    KINDS, REQUEST_TYPES, REQUESTER_TYPES, MEASURES, STEPS,
    PostSchema, PartySchema, ReportReceivedV1, ReportScoredV1, ClauseRefSchema,
    RequestRefSchema, DecisionRecordedV1, AppealSubmittedV1, NOTICE_TYPES, NoticeV1,
    NoticeReceiptV1, AlertV1, PosterReplyV1, InquiryDeliveredV1, AuditHeadV1,
)


@dataclass(frozen=True)
class EventType:
    name: str          # CloudEvents `type`
    topic_key: str     # key into shared.settings.DEFAULT_TOPICS
    schema: type[Schema]

    @property
    def topic(self) -> str:
        return topic(self.topic_key)


REPORT_SUBMITTED = "jp.modq.report.submitted.v1"
REPORT_RECEIVED = EventType("jp.modq.report.received.v1", "reports_received", ReportReceivedV1)
REPORT_SCORED = EventType("jp.modq.report.scored.v1", "reports_scored", ReportScoredV1)
DECISION_RECORDED = EventType("jp.modq.decision.recorded.v1", "decisions_recorded", DecisionRecordedV1)
REQUESTER_NOTICE = EventType("jp.modq.notice.requester.v1", "notices_requester", NoticeV1)
POSTER_NOTICE = EventType("jp.modq.notice.poster.v1", "notices_poster", NoticeV1)
NOTICE_RECEIPT = EventType("jp.modq.notice.receipt.v1", "notices_receipts", NoticeReceiptV1)
ALERT = EventType("jp.modq.alert.v1", "alerts", AlertV1)
APPEAL_SUBMITTED = EventType("jp.modq.appeal.submitted.v1", "appeals", AppealSubmittedV1)
POSTER_REPLY = EventType("jp.modq.poster.reply.v1", "poster_replies", PosterReplyV1)
INQUIRY_DELIVERED = EventType("jp.modq.inquiry.delivered.v1", "inquiries_delivered", InquiryDeliveredV1)
AUDIT_HEAD = EventType("jp.modq.audit.head.v1", "audit_heads", AuditHeadV1)

EVENT_TYPES = {t.name: t for t in (REPORT_RECEIVED, REPORT_SCORED, DECISION_RECORDED,
                                   REQUESTER_NOTICE, POSTER_NOTICE, NOTICE_RECEIPT, ALERT, POSTER_REPLY,
                                   INQUIRY_DELIVERED, APPEAL_SUBMITTED, AUDIT_HEAD)}


class InvalidEvent(ValueError):
    """A message that is not a valid event of a known type; it goes to the dead-letter topic."""


@dataclass(frozen=True)
class Envelope:
    """A parsed or to-be-sent event."""

    id: str
    type: str
    source: str
    subject: str
    time: dt.datetime
    data: dict[str, Any]

    def to_json(self) -> bytes:
        event = CloudEvent(
            attributes={
                "id": self.id,
                "source": self.source,
                "type": self.type,
                "subject": self.subject,
                "time": self.time,
                "datacontenttype": "application/json",
                "specversion": "1.0",
            },
            data=self.data,
        )
        return _FORMAT.write(event)


@functools.lru_cache(maxsize=None)
def schema_instance(schema_class: type[Schema]) -> Schema:
    """One instance per schema class: building a marshmallow schema (and its nested ones)
    costs more than validating an event with it, and loading with it keeps no state."""
    return schema_class()


def make_event(event_type: EventType, *, source: str, subject: str, data: dict, id: str | None = None,
               time: dt.datetime | None = None, validate: bool = True) -> Envelope:
    """Validate ``data`` against the type's schema and wrap it in an envelope.

    ``validate=False`` is for hot paths whose data is built field by field from input that a
    stricter schema has already validated (intake's submissions); tests check that shape."""
    errors = schema_instance(event_type.schema).validate(data) if validate else None
    if errors:
        raise InvalidEvent(f"{event_type.name}: {errors}")
    return Envelope(
        id=id or str(uuid.uuid4()),
        type=event_type.name,
        source=source,
        subject=subject,
        time=time or dt.datetime.now(dt.timezone.utc),
        data=data,
    )


def parse_event(raw: bytes, expected: tuple[str, ...] | None = None) -> Envelope:
    """Parse a structured-mode CloudEvent; raise InvalidEvent with a reason otherwise."""
    if raw is None:
        raise InvalidEvent("empty message")
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"message of {len(raw)} bytes exceeds {MAX_EVENT_BYTES}")
    try:
        text = raw.decode("utf-8")
        obj = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEvent(f"not UTF-8 JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InvalidEvent("not a JSON object")
    try:
        event = _FORMAT.read(None, text)
    except Exception as exc:  # the SDK raises several exception types for bad envelopes
        raise InvalidEvent(f"not a CloudEvent 1.0: {exc}") from None
    etype = event.get_type()
    if expected is not None and etype not in expected:
        raise InvalidEvent(f"unexpected event type {etype!r}")
    data = event.get_data()
    if not isinstance(data, dict):
        raise InvalidEvent("data is not a JSON object")
    known = EVENT_TYPES.get(etype)
    if known is not None:
        try:
            data = schema_instance(known.schema).load(data)
        except ValidationError as exc:
            raise InvalidEvent(f"{etype}: invalid data: {exc.messages}") from None
    if not event.get_subject():
        raise InvalidEvent("missing subject")
    return Envelope(
        id=event.get_id(),
        type=etype,
        source=event.get_source(),
        subject=event.get_subject(),
        time=event.get_time() or dt.datetime.now(dt.timezone.utc),
        data=data,
    )
