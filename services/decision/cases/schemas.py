"""Schemas of the queue's JSON API."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.decision.cases.service import QUEUE_VIEWS


class CaseQuerySchema(Schema):
    status = fields.String(load_default="open", validate=validate.OneOf(("open", "decided")))
    kind = fields.String(load_default=None, validate=validate.OneOf(("report", "deletion_request")))
    category = fields.String(load_default=None, validate=validate.Length(max=32))
    near_deadline = fields.Boolean(load_default=False)
    view = fields.String(load_default=None, validate=validate.OneOf(QUEUE_VIEWS),
                         metadata={"description": "specialist: referred to a 専門員; ready: the poster's reply "
                                                  "window ended without objection (判断可能)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 1_000_000))


class CaseSummarySchema(Schema):
    id = fields.String()
    post_id = fields.String()
    status = fields.String()
    stage = fields.String(allow_none=True)
    priority = fields.Float()
    score = fields.Float(allow_none=True)
    top_category = fields.String(allow_none=True)
    model_version = fields.String(allow_none=True)
    reporter_count = fields.Integer()
    report_count = fields.Integer()
    request_count = fields.Integer()
    next_deadline_at = fields.String(allow_none=True)
    near_deadline = fields.Boolean()
    notice_blocked = fields.Boolean()
    claimed_by = fields.String(allow_none=True)
    version = fields.Integer()
    created_at = fields.String()
    ready_to_decide = fields.Boolean()


class CaseListSchema(Schema):
    cases = fields.List(fields.Nested(CaseSummarySchema))
    counts = fields.Dict()
