"""The payload schemas of modq's events, one versioned marshmallow schema per event type.

They are the data part of the contract that ``shared.events`` wraps in CloudEvents envelopes;
docs/events.md and docs/asyncapi.yaml are generated from them.
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema, EXCLUDE

# --- payload schemas -----------------------------------------------------------------

KINDS = ("report", "deletion_request")
REQUEST_TYPES = ("ordinary", "election", "av_performer")
REQUESTER_TYPES = ("public_body", "court")  # absent: a private person or an agent
MEASURES = ("remove", "hide", "suspend_account", "no_action")
STEPS = ("poster_inquiry", "refer_specialist", "delay_other")


class PostSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    url = fields.String(required=True, validate=validate.Length(max=2000))
    author_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    text = fields.String(required=True, validate=validate.Length(max=20000))
    posted_at = fields.String(required=True)
    media = fields.List(fields.Dict(), load_default=list)


class PartySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True)
    contact = fields.String(allow_none=True, load_default=None)
    locale = fields.String(load_default="ja")
    is_rights_holder = fields.Boolean(load_default=False)
    agent_authority = fields.String(allow_none=True, load_default=None)
    requester_type = fields.String(allow_none=True, load_default=None)  # public_body | court (§28 report)
    # DSA Art. 22: a notice from a trusted flagger is reported as such (SOURCE_TRUSTED_FLAGGER)
    trusted_flagger = fields.Boolean(load_default=False)


class ReportReceivedV1(Schema):
    """intake -> everyone: a report or deletion request was accepted and stored."""

    class Meta:
        unknown = EXCLUDE

    report_id = fields.String(required=True)
    case_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    treated_as = fields.String(required=True, validate=validate.OneOf(KINDS))
    received_at = fields.String(required=True)
    deadline_at = fields.String(allow_none=True, load_default=None)
    request_type = fields.String(load_default="ordinary")
    post = fields.Nested(PostSchema, required=True)
    # No reporter: the operator found the post itself (own detection, §28 and DSA SOURCE_VOLUNTARY).
    reporter = fields.Nested(PartySchema, allow_none=True, load_default=None)
    reason = fields.String(allow_none=True, load_default=None)
    reason_category = fields.String(allow_none=True, load_default=None)
    right_infringed = fields.String(allow_none=True, load_default=None)
    is_repeat = fields.Boolean(load_default=False)
    evidence_sha256 = fields.String(allow_none=True, load_default=None)
    # The short 受付番号 the requester was shown (ten characters, Crockford base 32 with a check
    # symbol); absent on events published before intake gave one, and on reports without one.
    receipt_number = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=20))
    # Whose copy of the post this is: "sns" (a signed SNS report) or "requester" (the public
    # form, which names the post by URL only). A case keeps the SNS's copy once it has one.
    evidence = fields.String(load_default="sns", validate=validate.OneOf(("sns", "requester")))

    @validates_schema
    def _requests_have_a_requester(self, data, **kwargs):
        if data.get("treated_as") == "deletion_request" and not data.get("reporter"):
            raise ValidationError("a deletion request needs its requester", "reporter")


class ReportScoredV1(Schema):
    class Meta:
        unknown = EXCLUDE

    report_id = fields.String(required=True)
    case_id = fields.String(required=True)
    score = fields.Float(required=True, validate=validate.Range(0, 1))
    categories = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    model_version = fields.String(required=True)
    scored_at = fields.String(required=True)


class ClauseRefSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True)
    version = fields.String(required=True)
    title = fields.String(required=True)
    text = fields.String(required=True)
    published_at = fields.String(allow_none=True, load_default=None)


class RequestRefSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    report_id = fields.String(required=True)
    kind = fields.String(required=True)
    requester = fields.Nested(PartySchema, required=True)
    received_at = fields.String(required=True)
    deadline_at = fields.String(allow_none=True, load_default=None)
    is_repeat = fields.Boolean(load_default=False)
    right_infringed = fields.String(allow_none=True, load_default=None)
    reason = fields.String(allow_none=True, load_default=None)
    request_type = fields.String(load_default="ordinary")


class DecisionRecordedV1(Schema):
    """decision -> notifier/auditors: a moderator recorded a decision or a non-final step."""

    class Meta:
        unknown = EXCLUDE

    decision_id = fields.String(required=True)
    case_id = fields.String(required=True)
    action = fields.String(required=True, validate=validate.OneOf(MEASURES + STEPS + ("reversal",)))
    final = fields.Boolean(required=True)
    measure = fields.String(allow_none=True, load_default=None)
    clause = fields.Nested(ClauseRefSchema, allow_none=True, load_default=None)
    exception_code = fields.String(allow_none=True, load_default=None)
    reason = fields.String(required=True)  # the decision's own record; not sent to requesters
    requester_reason = fields.String(allow_none=True, load_default=None)  # N2's reason, N3's item iii reason
    facts = fields.String(allow_none=True, load_default=None)
    scope = fields.Dict(load_default=dict)
    suspension_until = fields.String(allow_none=True, load_default=None)
    delay_item = fields.String(allow_none=True, load_default=None)  # §25(2) item i / ii / iii
    inquiry_days = fields.Integer(allow_none=True, load_default=None)
    # poster_inquiry only: the id the INQ notice is issued under (the decision service owns it and
    # matches the delivery receipt and the poster's reply by it).
    inquiry_notice_id = fields.String(allow_none=True, load_default=None)
    decided_at = fields.String(required=True)
    decided_by = fields.String(required=True)  # pseudonymous moderator id
    decided_by_role = fields.String(load_default="moderator")
    ai_assisted = fields.Boolean(load_default=False)
    model_version = fields.String(allow_none=True, load_default=None)
    score = fields.Float(allow_none=True, load_default=None)
    post = fields.Nested(PostSchema, required=True)
    poster = fields.Nested(PartySchema, required=True)
    requests = fields.List(fields.Nested(RequestRefSchema), load_default=list)
    reverses = fields.String(allow_none=True, load_default=None)
    suspension_permanent = fields.Boolean(load_default=False)  # added later; absent means False


class AppealSubmittedV1(Schema):
    """SNS -> decision: a poster contests a measure (DSA Art. 20; counted in the §28 report)."""

    class Meta:
        unknown = EXCLUDE

    appeal_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    decision_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    appellant_id = fields.String(required=True, validate=validate.Length(min=1, max=200))  # the poster's account id
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    submitted_at = fields.String(required=True)


# REV: a measure lifted after an appeal, told to the poster; REVR: the same, told to each requester
NOTICE_TYPES = ("ACK", "N1", "N2", "N3", "N4", "INQ", "REV", "REVR")


class NoticeV1(Schema):
    class Meta:
        unknown = EXCLUDE

    notice_id = fields.String(required=True)
    notice_type = fields.String(required=True, validate=validate.OneOf(NOTICE_TYPES))
    legal_basis = fields.String(required=True)
    case_id = fields.String(required=True)
    request_id = fields.String(allow_none=True, load_default=None)
    decision_id = fields.String(allow_none=True, load_default=None)
    recipient = fields.Nested(PartySchema, required=True)
    text_ja = fields.String(required=True)
    text_en = fields.String(allow_none=True, load_default=None)
    details = fields.Dict(load_default=dict)  # structured fields for the SNS UI
    issued_at = fields.String(required=True)


class NoticeReceiptV1(Schema):
    class Meta:
        unknown = EXCLUDE

    notice_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("delivered", "failed", "unreachable")))
    at = fields.String(required=True)
    detail = fields.String(allow_none=True, load_default=None)


class AlertV1(Schema):
    class Meta:
        unknown = EXCLUDE

    alert = fields.String(required=True)
    case_id = fields.String(required=True)
    request_id = fields.String(allow_none=True, load_default=None)
    detail = fields.String(required=True)
    raised_at = fields.String(required=True)


class PosterReplyV1(Schema):
    """SNS -> decision: the poster answered an opinion inquiry (照会, §3(2)(ii)).

    ``decision_id`` is the ``poster_inquiry`` decision that the inquiry came from;
    ``delivered_at`` is when the inquiry reached the poster (the reply window starts there).
    An objection needs no reason, so ``text`` may be empty. Added in a backward-compatible way:
    a new type on its own topic, so existing consumers never see it.
    """

    class Meta:
        unknown = EXCLUDE

    case_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    decision_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    poster_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    objection = fields.Boolean(required=True)
    text = fields.String(load_default="", validate=validate.Length(max=20000))
    received_at = fields.String(required=True)
    delivered_at = fields.String(required=True)


class InquiryDeliveredV1(Schema):
    """notifier -> decision: an opinion inquiry (INQ, §3(2)(ii)) reached the poster.

    ``reply_deadline_at`` is the end of the poster's reply window, counted from
    ``delivered_at`` on the Asia/Tokyo calendar (7 days, or 2 for election and AV requests);
    without an objection by then, the measure may be taken from ``measure_allowed_from``.
    Added in a backward-compatible way: a new type on its own topic.
    """

    class Meta:
        unknown = EXCLUDE

    notice_id = fields.String(required=True)
    case_id = fields.String(required=True)
    decision_id = fields.String(required=True)
    poster_id = fields.String(required=True)
    post_id = fields.String(allow_none=True, load_default=None)
    request_type = fields.String(load_default="ordinary")
    reply_days = fields.Integer(required=True)
    delivered_at = fields.String(required=True)
    reply_deadline_at = fields.String(required=True)
    measure_allowed_from = fields.String(required=True)


class AuditHeadV1(Schema):
    """decision -> anyone keeping a copy: the audit log's head, so a log later cut short or
    rewritten no longer matches what was published."""

    class Meta:
        unknown = EXCLUDE

    seq = fields.Integer(required=True, metadata={"description": "Sequence number of the last entry"})
    hash = fields.String(required=True, metadata={"description": "Its keyed hash (hex HMAC-SHA256)"})
    scheme = fields.String(required=True, metadata={"description": "hmac-sha256"})
    at = fields.String(required=True, metadata={"description": "When the last entry was written (ISO 8601)"})
    published_at = fields.String(required=True)
