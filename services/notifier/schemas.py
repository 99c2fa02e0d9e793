"""The notifier API's request and response shapes."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.clock import parse_instant

STATUSES = ("sent", "held", "delivered", "failed", "unreachable")


class Instant(fields.String):
    """An ISO 8601 instant with a UTC offset, e.g. 2025-04-01T00:00:00+09:00."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_instant(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as exc:
            raise ValidationError(f"not an ISO 8601 instant with offset: {exc}") from None


class NoticeQuerySchema(Schema):
    case_id = fields.String(load_default=None, validate=validate.Length(max=64))
    request_id = fields.String(load_default=None, validate=validate.Length(max=64))
    decision_id = fields.String(load_default=None, validate=validate.Length(max=64))
    notice_type = fields.String(load_default=None, validate=validate.OneOf(("ACK", "N1", "N2", "N3", "N4", "INQ")))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class PeriodSchema(Schema):
    from_ = Instant(data_key="from", load_default=None)
    to = Instant(load_default=None)

    @validates_schema
    def _ordered(self, data, **_kwargs):
        if data["from_"] and data["to"] and data["from_"] >= data["to"]:
            raise ValidationError("must be after 'from'", "to")


class NoticeOutSchema(Schema):
    notice_id = fields.String()
    notice_type = fields.String()
    legal_basis = fields.String()
    case_id = fields.String()
    request_id = fields.String(allow_none=True)
    decision_id = fields.String(allow_none=True)
    recipient_id = fields.String()
    status = fields.String()
    held_reason = fields.String(allow_none=True)
    issued_at = fields.String()
    delivered_at = fields.String(allow_none=True)
    attempts = fields.Integer()
    failures = fields.Integer()
    next_attempt_at = fields.String(allow_none=True)
    reply_deadline_at = fields.String(allow_none=True)
    measure = fields.String(allow_none=True)
    clause_id = fields.String(allow_none=True)
    delay_item = fields.String(allow_none=True)
    text_ja = fields.String()


class ExceptionOutSchema(Schema):
    id = fields.String()
    notice_type = fields.String()
    reason_code = fields.String()
    legal_basis = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
    case_id = fields.String()
    request_id = fields.String(allow_none=True)
    decision_id = fields.String(allow_none=True)
    related_notice_id = fields.String(allow_none=True)
    fallback = fields.String(allow_none=True)
    recorded_at = fields.String()


class NoticeListSchema(Schema):
    notices = fields.List(fields.Nested(NoticeOutSchema))
    exceptions = fields.List(fields.Nested(ExceptionOutSchema))


class StatsSchema(Schema):
    from_ = fields.String(data_key="from", attribute="from", allow_none=True)
    to = fields.String(allow_none=True)
    notices = fields.List(fields.Dict())
    exceptions = fields.List(fields.Dict())
    held = fields.List(fields.Dict())
