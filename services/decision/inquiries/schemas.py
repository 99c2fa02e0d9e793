"""Schemas of the posters' replies in the JSON API."""
from __future__ import annotations

from marshmallow import Schema, fields, validate, RAISE


class PosterReplyInSchema(Schema):
    """The poster's answer to an opinion inquiry (§3(2)(ii)), handed in by the SNS."""

    class Meta:
        unknown = RAISE

    reply_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64),
                             metadata={"description": "the SNS's id for this reply; the same id is recorded once"})
    decision_id = fields.String(required=True, validate=validate.Length(min=1, max=64),
                                metadata={"description": "the poster_inquiry decision that the inquiry came from"})
    poster_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    objection = fields.Boolean(required=True)
    text = fields.String(load_default="", validate=validate.Length(max=20000))
    received_at = fields.AwareDateTime(required=True)
    delivered_at = fields.AwareDateTime(required=True,
                                        metadata={"description": "when the inquiry reached the poster"})


class PosterReplyOutSchema(Schema):
    id = fields.String()
    case_id = fields.String()
    decision_id = fields.String()
    objection = fields.Boolean()
    late = fields.Boolean()
    received_at = fields.String()
    window_ends_at = fields.String()
