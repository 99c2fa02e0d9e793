"""Query and body schemas of the audit endpoints."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.decision.decisions.domain import ACTIONS
from services.decision.audit.models import APPEAL_OUTCOMES, APPEAL_STATUSES
from services.decision.audit.records import ROUTES

PERIOD_HELP = "YYYY-MM-DD (a whole day in JST; `to` inclusive) or an ISO instant with offset (`to` exclusive)"


class PeriodQuerySchema(Schema):
    from_ = fields.String(data_key="from", load_default=None, metadata={"description": PERIOD_HELP})
    to = fields.String(load_default=None, metadata={"description": PERIOD_HELP})


class ExportQuerySchema(PeriodQuerySchema):
    measure = fields.String(load_default=None, validate=validate.OneOf(ACTIONS + ("reversal",)),
                            metadata={"description": "the decision's action"})
    clause = fields.String(load_default=None, validate=validate.Length(max=32))
    route = fields.String(load_default=None, validate=validate.OneOf(ROUTES))
    ai = fields.Boolean(load_default=None, allow_none=True, metadata={"description": "ai_assisted"})
    reversal = fields.Boolean(load_default=None, allow_none=True,
                              metadata={"description": "true: only reversals; false: everything but reversals"})
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "jsonl", "csv")))
    bom = fields.Boolean(load_default=False, metadata={"description": "CSV: start with a UTF-8 BOM (Excel)"})
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class TransparencyQuerySchema(PeriodQuerySchema):
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv", "html")))
    bom = fields.Boolean(load_default=False)


class DsaQuerySchema(PeriodQuerySchema):
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "jsonl")))


class AppealInSchema(Schema):
    class Meta:
        unknown = RAISE

    appeal_id = fields.String(load_default=None, validate=validate.Length(min=1, max=64),
                              metadata={"description": "the SNS's id for this appeal (idempotency)"})
    decision_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    appellant_id = fields.String(required=True, validate=validate.Length(min=1, max=200),
                                 metadata={"description": "the poster's account id"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class AppealReviewSchema(Schema):
    class Meta:
        unknown = RAISE

    outcome = fields.String(required=True, validate=validate.OneOf(APPEAL_OUTCOMES))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class AppealQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(APPEAL_STATUSES))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class AppealOutSchema(Schema):
    id = fields.String()
    decision_id = fields.String()
    case_id = fields.String()
    status = fields.String()
    channel = fields.String()
    reason = fields.String()
    submitted_at = fields.String()
    reviewed_at = fields.String(allow_none=True)
    reviewed_by_role = fields.String(allow_none=True)
    review_reason = fields.String(allow_none=True)
    reversal_decision_id = fields.String(allow_none=True)


class AppealListSchema(Schema):
    appeals = fields.List(fields.Nested(AppealOutSchema))


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
