"""Intake's HTTP API for SNS backends (HMAC-signed)."""
from __future__ import annotations

import json

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort
from webargs import core
from webargs.flaskparser import abort as parser_abort, is_json_request

from shared.web import ApiBlueprint

from shared.db import utcnow
from shared.settings import sns_clients
from shared.signing import SignatureError, verify
from services.intake.schemas import (MAX_BODY_BYTES, MAX_IDEMPOTENCY_KEY, MAX_REASON, MAX_TEXT,
                                     ReportAcceptedSchema, ReportSubmissionSchema)
from services.intake.batching import WriterUnavailable
from services.intake.service import SignatureReplayed, Submission

LIMITS = (f"Limits: body at most {MAX_BODY_BYTES} bytes (413 above), UTF-8 JSON only; post.text at most "
          f"{MAX_TEXT} characters, reason at most {MAX_REASON}, ids at most 200, URLs at most 2000 and "
          f"http(s) only, at most 20 media; no NUL characters; posted_at not in the future. "
          f"Idempotency-Key at most {MAX_IDEMPOTENCY_KEY} characters.")

EXAMPLE_REQUEST = {
    "kind": "deletion_request",
    "post": {"id": "p-123", "url": "https://sns.example.jp/posts/p-123", "author_id": "u-poster",
             "text": "山田花子は前科がある", "posted_at": "2026-06-02T12:00:00+09:00", "media": []},
    "reporter": {"id": "u-hanako", "name": "山田 花子", "contact": "mail:hanako@example.jp",
                 "is_rights_holder": True},
    "reason": "虚偽の前科を書かれ、社会的評価が下がっています",
    "right_infringed": "名誉権",
    "request_type": "ordinary",
}
EXAMPLE_ACCEPTED = {
    "report_id": "0b9f1c1e-6a51-4a0e-9a57-1d1f5b8d2c11", "receipt_number": "7K3QX9M2P6",
    "case_id": "5b0c8f5e-61f7-5d8e-8f8e-2f2a7c1d9e10",
    "received_at": "2026-06-02T15:00:00+09:00", "kind": "deletion_request", "treated_as": "deletion_request",
    "note": None, "deadline_at": "2026-06-09T23:59:59+09:00", "is_repeat": False,
    "evidence_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
}
EXAMPLE_INVALID = {"error": "invalid input: see fields", "status": 400,
                   "fields": {"json": {"kind": ["Must be one of: report, deletion_request."],
                                       "post": {"posted_at": ["is in the future"]}}}}


class SubmissionParser(type(ApiBlueprint.ARGUMENTS_PARSER)):
    """Reads the body as UTF-8 JSON and says precisely what is wrong with it, instead of one
    'Invalid JSON body.' for everything (and a 500 for pathologically nested JSON)."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            parser_abort(415, messages={"json": ["Content-Type must be application/json"]})
        raw = req.get_data(cache=True)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            parser_abort(400, messages={"json": [f"body is not valid UTF-8 (byte {exc.start})"]})
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            parser_abort(400, messages={"json": [f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"]})
        except RecursionError:
            parser_abort(400, messages={"json": ["malformed JSON: nested too deeply"]})
        return core.missing


class IntakeBlueprint(ApiBlueprint):
    ARGUMENTS_PARSER = SubmissionParser()


SUBMISSION_SCHEMA = ReportSubmissionSchema()

blp = IntakeBlueprint("reports", __name__, url_prefix="/v1", description="Reports and §22 deletion requests")


def authenticate() -> tuple[str, str]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        abort(413, message=f"body over {MAX_BODY_BYTES} bytes")
    body = request.get_data(cache=True)
    if len(body) > MAX_BODY_BYTES:
        abort(413, message=f"body over {MAX_BODY_BYTES} bytes")
    try:
        return verify(request.headers, body, sns_clients())
    except SignatureError as exc:
        abort(401, message=str(exc))


@blp.before_request
def _authenticate_first():
    # Signature before parsing: an unsigned request learns nothing about the schema.
    if request.method == "POST":
        current_app.config["AUTHENTICATED"]()


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= MAX_IDEMPOTENCY_KEY):
        abort(400, message=f"Idempotency-Key must be 1–{MAX_IDEMPOTENCY_KEY} characters")
    return key


@blp.route("/reports")
class Reports(MethodView):
    @blp.doc(parameters=[
        {"in": "header", "name": "X-Modq-Client", "required": True, "schema": {"type": "string"},
         "example": "demo"},
        {"in": "header", "name": "X-Modq-Timestamp", "required": True, "schema": {"type": "string"},
         "description": "unix seconds; refused when more than 300 s away from the server's clock",
         "example": "1780380000"},
        {"in": "header", "name": "X-Modq-Signature", "required": True, "schema": {"type": "string"},
         "description": 'v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>; each signature is accepted once'},
        {"in": "header", "name": "Idempotency-Key", "required": False,
         "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY},
         "description": "the same key returns the first result and stores nothing new"},
    ])
    # An instance, not the class: webargs would build the schema and its nested schemas anew
    # on every request otherwise (a third of the validation's cost).
    @blp.arguments(SUBMISSION_SCHEMA, location="json", example=EXAMPLE_REQUEST, description=LIMITS)
    @blp.response(202, ReportAcceptedSchema, example=EXAMPLE_ACCEPTED,
                  description="Stored with its outgoing event; the broker may be down, the event waits in the outbox")
    @blp.alt_response(400, description="Malformed JSON, invalid UTF-8 or invalid fields (each field with its reason)",
                      example=EXAMPLE_INVALID)
    @blp.alt_response(401, description="Missing, unknown, stale (±300 s), wrong or replayed signature; nothing stored",
                      example={"error": "signature already used (replayed request)", "status": 401})
    @blp.alt_response(413, description=f"Body over {MAX_BODY_BYTES} bytes",
                      example={"error": f"body over {MAX_BODY_BYTES} bytes", "status": 413})
    @blp.alt_response(415, description="Content-Type is not application/json")
    @blp.alt_response(503, description="Database unavailable; nothing was stored; retry after Retry-After seconds",
                      example={"error": "database unavailable, try again later", "status": 503},
                      headers={"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}})
    def post(self, payload):
        """Submit a report (通報) or a §22 deletion request (削除申出).

        The same Idempotency-Key returns the first result and never creates a second report.
        """
        client_id, signature = current_app.config["AUTHENTICATED"]()
        submission = Submission(payload, client_id, _idempotency_key(), "http", utcnow(), signature)
        try:
            accepted = current_app.extensions["intake_group_commit"].submit(submission)
        except SignatureReplayed:
            abort(401, message="signature already used (replayed request)")
        except WriterUnavailable:
            abort(503, message="database unavailable, try again later")
        # ``result_of`` already gives the documented shape (ReportAcceptedSchema); a Response
        # skips dumping it through the schema once more on every request.
        response = current_app.json.response(accepted.result)
        response.status_code = 202
        return response
