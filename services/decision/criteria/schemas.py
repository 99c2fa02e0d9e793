"""Schemas of the criteria's JSON API."""
from __future__ import annotations

from marshmallow import Schema, fields


class ClauseSchema(Schema):
    id = fields.String()
    title = fields.String()
    text = fields.String()
    category = fields.String(allow_none=True)
    routes = fields.List(fields.String())
    measures = fields.List(fields.String())
    covers_suspension = fields.Boolean()
    examples = fields.List(fields.String())


class CriteriaSchema(Schema):
    version = fields.String(allow_none=True)
    published_at = fields.String(allow_none=True)
    clauses = fields.List(fields.Nested(ClauseSchema))
