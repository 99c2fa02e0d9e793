"""Request and response schemas of intake's HTTP API (also used for the Kafka path)."""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlparse

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema, RAISE

from shared import clock
from shared.events import KINDS, REQUEST_TYPES, REQUESTER_TYPES

# Documented limits (README "Intake", OpenAPI descriptions). Bodies over MAX_BODY_BYTES get 413.
MAX_TEXT = 20000
MAX_REASON = 5000
MAX_BODY_BYTES = 256 * 1024
MAX_IDEMPOTENCY_KEY = 200


class Text(fields.String):
    """A string PostgreSQL can store and UTF-8 can encode: no NUL characters, no unpaired
    surrogates ("\\ud800" is valid JSON but not valid text). Without this check such input
    would fail inside the database instead of getting a 400 with the field named."""

    default_error_messages = {
        "nul": "must not contain NUL (U+0000) characters",
        "surrogate": "must be valid Unicode text (unpaired surrogate)",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise self.make_error("surrogate") from None
        return text


_WHITESPACE = re.compile(r"\s")


def _http_url(value: str) -> None:
    try:
        parsed = urlparse(value)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        raise ValidationError("must be an http(s) URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.netloc or _WHITESPACE.search(value):
        raise ValidationError("must be an http(s) URL")


def _instant(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise ValidationError("must be an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise ValidationError("must include a UTC offset (e.g. +09:00 or Z)")
    return parsed


def _doc(description: str, example=None) -> dict:
    meta = {"description": description}
    if example is not None:
        meta["example"] = example
    return meta


class MediaSchema(Schema):
    class Meta:
        unknown = RAISE

    url = Text(required=True, validate=[validate.Length(max=2000), _http_url],
               metadata=_doc("http(s) URL, at most 2000 characters", "https://sns.example.jp/media/9.jpg"))
    type = Text(load_default="image", validate=validate.OneOf(("image", "video", "audio", "file")))
    id = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))


class PostInSchema(Schema):
    """The reported post as the SNS shows it (kept as evidence, 証拠保全)."""

    class Meta:
        unknown = RAISE

    id = Text(required=True, validate=validate.Length(min=1, max=200),
              metadata=_doc("the SNS's post id (1–200 characters); reports on one id form one case", "p-123"))
    url = Text(required=True, validate=[validate.Length(max=2000), _http_url],
               metadata=_doc("http(s) URL, at most 2000 characters", "https://sns.example.jp/posts/p-123"))
    author_id = Text(required=True, validate=validate.Length(min=1, max=200),
                     metadata=_doc("the poster's account id (1–200 characters)", "u-poster"))
    text = Text(required=True, validate=validate.Length(max=MAX_TEXT),
                metadata=_doc(f"the post's text as shown, at most {MAX_TEXT} characters", "お前なんか消えろ"))
    posted_at = Text(required=True, metadata=_doc(
        "ISO 8601 with a UTC offset; not more than 5 minutes in the future", "2026-06-02T15:00:00+09:00"))
    media = fields.List(fields.Nested(MediaSchema), load_default=list, validate=validate.Length(max=20),
                        metadata=_doc("at most 20 attachments"))

    @validates("posted_at")
    def _posted_at(self, value: str, **_):
        parsed = _instant(value)
        if parsed > dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5):
            raise ValidationError("is in the future")


class ReporterSchema(Schema):
    class Meta:
        unknown = RAISE

    id = Text(required=True, validate=validate.Length(min=1, max=200),
              metadata=_doc("the reporter's id at the SNS (1–200 characters); a repeat §22 request is "
                            "recognised by the same id on the same post", "u-reporter"))
    name = Text(load_default=None, allow_none=True, validate=validate.Length(max=200),
                metadata=_doc("the requester's name, if given (at most 200 characters)", "山田 花子"))
    contact = Text(load_default=None, allow_none=True, validate=validate.Length(max=500),
                   metadata=_doc("where the §25 notices go (at most 500 characters)", "mail:hanako@example.jp"))
    locale = Text(load_default="ja", validate=validate.OneOf(("ja", "en")))
    is_rights_holder = fields.Boolean(load_default=False, metadata=_doc(
        "true if the reporter is the person whose rights are infringed"))
    requester_type = Text(load_default=None, allow_none=True, validate=validate.OneOf(REQUESTER_TYPES), metadata=_doc(
        "who asks, where it is not a private person: public_body (国の行政機関・地方公共団体など) or court "
        "(a court's order or decision); counted apart in the §28 report (施行規則第18条)", "public_body"))
    agent_authority = Text(load_default=None, allow_none=True, validate=validate.Length(max=1000),
                           metadata=_doc("for an agent (lawyer, parent, company): the authority, at most "
                                         "1000 characters", "弁護士（委任状あり）"))


class ReportSubmissionSchema(Schema):
    """A report (通報) or a §22 deletion request (削除申出)."""

    class Meta:
        unknown = RAISE

    kind = Text(required=True, validate=validate.OneOf(KINDS),
                metadata=_doc("report (通報) or deletion_request (削除申出, §22)", "deletion_request"))
    post = fields.Nested(PostInSchema, required=True)
    reporter = fields.Nested(ReporterSchema, required=True)
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=MAX_REASON),
                  metadata=_doc(f"the reasons, at most {MAX_REASON} characters; required for a deletion request",
                                "私の実名を挙げて虚偽の前科を書いています"))
    reason_category = Text(load_default=None, allow_none=True, validate=validate.Length(max=64),
                           metadata=_doc("the SNS's own report category, at most 64 characters", "harassment"))
    right_infringed = Text(load_default=None, allow_none=True, validate=validate.Length(max=64), metadata=_doc(
        "the right infringed (名誉権, プライバシー, 肖像権, 著作権, その他…), at most 64 characters; "
        "without it a deletion request is handled as a report", "名誉権"))
    request_type = Text(load_default="ordinary", validate=validate.OneOf(REQUEST_TYPES), metadata=_doc(
        "ordinary; election (§4: election material, at a candidate's request); av_performer "
        "(AV law §16: a performer's request). The last two shorten the poster's reply window to 2 days",
        "ordinary"))

    @validates_schema(skip_on_field_errors=False)  # list every problem at once
    def _request_needs_reason(self, data, **_):
        if data.get("kind") == "deletion_request" and not (data.get("reason") or "").strip():
            raise ValidationError("a deletion request needs the reasons (§22)", "reason")


    @validates_schema(skip_on_field_errors=False)
    def _short_window_conditions(self, data, **_):
        """The 2-day reply window is not the requester's to choose: §4 covers only the 名誉 of
        a 公職の候補者等, AV law §16 only a performer's own request (naming the right)."""
        request_type = data.get("request_type")
        if request_type not in clock.SHORT_WINDOW_TYPES:
            return
        if data.get("kind") != "deletion_request":
            raise ValidationError("選挙・出演者の申出は削除申出（kind: deletion_request）でのみ選べます", "request_type")
        if not clock.qualifies_for_short_window(request_type, data.get("right_infringed")):
            raise ValidationError(
                "選挙に関する申出（第4条）は候補者等の名誉権の侵害に限られます（election: right_infringed must be 名誉権）"
                if request_type == "election" else
                "出演者からの申出には侵害された権利を記入してください（av_performer: right_infringed required）",
                "request_type")


class ReportAcceptedSchema(Schema):
    report_id = fields.String(required=True, metadata=_doc("the report's id (a UUID), shared by the services"))
    receipt_number = fields.String(allow_none=True, metadata=_doc(
        "the request number (受付番号) for the requester: 10 characters of Crockford base32, the last a check "
        "character", "7K3QX9M2P6"))
    case_id = fields.String(required=True, metadata=_doc("one case per post"))
    received_at = fields.String(required=True, metadata=_doc("date and time of receipt, JST, ISO 8601 (§22)",
                                                             "2026-06-02T15:00:00+09:00"))
    kind = fields.String(required=True, metadata=_doc("as submitted"))
    treated_as = fields.String(required=True, metadata=_doc(
        "deletion_request only when the requester is the rights holder (or an agent with authority) and "
        "names the right; otherwise report"))
    note = fields.String(allow_none=True, metadata=_doc("why a deletion request is handled as a report"))
    deadline_at = fields.String(allow_none=True, metadata=_doc("§25 notice deadline, JST (deletion requests only)",
                                                              "2026-06-09T23:59:59+09:00"))
    is_repeat = fields.Boolean(metadata=_doc("the same requester already filed a request on this post "
                                             "(§25(1) proviso)"))
    evidence_sha256 = fields.String(metadata=_doc("SHA-256 of the post as reported (canonical JSON)"))
