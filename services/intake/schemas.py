"""Request and response schemas of intake's HTTP API (also used for the Kafka path)."""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlparse

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema, RAISE

from shared.events import KINDS, REQUEST_TYPES

MAX_TEXT = 20000
MAX_REASON = 5000
MAX_BODY_BYTES = 256 * 1024


def _http_url(value: str) -> None:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValidationError("must be an http(s) URL")


def _instant(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise ValidationError("must be an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise ValidationError("must include a UTC offset (e.g. +09:00 or Z)")
    return parsed


class MediaSchema(Schema):
    class Meta:
        unknown = RAISE

    url = fields.String(required=True, validate=[validate.Length(max=2000), _http_url])
    type = fields.String(load_default="image", validate=validate.OneOf(("image", "video", "audio", "file")))
    id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class PostInSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    url = fields.String(required=True, validate=[validate.Length(max=2000), _http_url])
    author_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    text = fields.String(required=True, validate=validate.Length(max=MAX_TEXT))
    posted_at = fields.String(required=True)
    media = fields.List(fields.Nested(MediaSchema), load_default=list, validate=validate.Length(max=20))

    @validates("posted_at")
    def _posted_at(self, value: str, **_):
        parsed = _instant(value)
        if parsed > dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5):
            raise ValidationError("is in the future")


class ReporterSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    contact = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    locale = fields.String(load_default="ja", validate=validate.OneOf(("ja", "en")))
    is_rights_holder = fields.Boolean(load_default=False)
    agent_authority = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class ReportSubmissionSchema(Schema):
    """A report (通報) or a §22 deletion request (削除申出)."""

    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    post = fields.Nested(PostInSchema, required=True)
    reporter = fields.Nested(ReporterSchema, required=True)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=MAX_REASON))
    reason_category = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    right_infringed = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    request_type = fields.String(load_default="ordinary", validate=validate.OneOf(REQUEST_TYPES))

    @validates_schema
    def _request_needs_reason(self, data, **_):
        if data.get("kind") == "deletion_request" and not (data.get("reason") or "").strip():
            raise ValidationError("a deletion request needs the reasons (§22)", "reason")


class ReportAcceptedSchema(Schema):
    report_id = fields.String(required=True)
    case_id = fields.String(required=True)
    received_at = fields.String(required=True, metadata={"description": "JST, ISO 8601"})
    kind = fields.String(required=True)
    treated_as = fields.String(required=True)
    note = fields.String(allow_none=True)
    deadline_at = fields.String(allow_none=True, metadata={"description": "§25 notice deadline, JST"})
    is_repeat = fields.Boolean()
    evidence_sha256 = fields.String()
