"""Schemas of the decisions' JSON API."""
from __future__ import annotations

from marshmallow import Schema, fields, validate, RAISE

from services.decision.decisions.domain import ACTIONS, EXCEPTION_CODES, VISIBILITIES


class ScopeSchema(Schema):
    """What exactly the measure covers (§3(2)(i)); omitted: the whole post, everywhere."""

    class Meta:
        unknown = RAISE

    whole_post = fields.Boolean(load_default=None, allow_none=True)
    items = fields.List(fields.String(validate=validate.Length(min=1, max=200)), load_default=list,
                        validate=validate.Length(max=100), metadata={"description": "media ids of the post"})
    visibility = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(VISIBILITIES),
                               metadata={"description": "japan_only: restrict only for viewers in Japan"})


class DecisionInSchema(Schema):
    class Meta:
        unknown = RAISE

    measure = fields.String(required=True, validate=validate.OneOf(ACTIONS),
                            metadata={"description": "remove | hide | suspend_account | no_action, or a step: "
                                                     "poster_inquiry | refer_specialist | delay_other"})
    clause_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))
    exception_code = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(tuple(EXCEPTION_CODES)))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    facts = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))
    requester_reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000),
                                     metadata={"description": "what the requesters are told (N2's reason; N3's "
                                               "reason under §25(2)(iii)); required for those when requests are "
                                               "open. ``reason`` is the decision's own record and is not sent to them"})
    scope = fields.Nested(ScopeSchema, load_default=None, allow_none=True)
    suspension_until = fields.AwareDateTime(load_default=None, allow_none=True)
    suspension_permanent = fields.Boolean(load_default=False)
    expected_version = fields.Integer(load_default=None, allow_none=True)
    override_claim = fields.Boolean(load_default=False, metadata={
        "description": "Decide without holding the case's claim (supervisor or admin only; audited)"})


class DecisionOutSchema(Schema):
    id = fields.String()
    case_id = fields.String()
    action = fields.String()
    final = fields.Boolean()
    measure = fields.String(allow_none=True)
    clause_id = fields.String(allow_none=True)
    clause_version = fields.String(allow_none=True)
    exception_code = fields.String(allow_none=True)
    reason = fields.String()
    decided_at = fields.String()
    scope = fields.Dict()
    suspension_until = fields.String(allow_none=True)
    suspension_permanent = fields.Boolean()
    specialist_reviewed = fields.Boolean()
