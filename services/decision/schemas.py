"""Schemas of the decision service's JSON API."""
from __future__ import annotations

from marshmallow import Schema, fields, validate, RAISE

from services.decision.domain import ACTIONS, EXCEPTION_CODES, VISIBILITIES
from services.decision.service import QUEUE_VIEWS


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


class VerifyQuerySchema(Schema):
    from_ = fields.AwareDateTime(data_key="from", load_default=None)
    to = fields.AwareDateTime(load_default=None)
    head_seq = fields.Integer(load_default=None, validate=validate.Range(min=1), metadata={
        "description": "seq of a head published earlier (topic modq.audit.heads); with head_hash"})
    head_hash = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9a-f]{64}$"))


class AuditHeadSchema(Schema):
    seq = fields.Integer()
    hash = fields.String()
    at = fields.String()


class VerifyResultSchema(Schema):
    intact = fields.Boolean()
    checked = fields.Integer()
    first_broken_seq = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)
    head = fields.Nested(AuditHeadSchema, allow_none=True, metadata={"description": "The log's head now"})
