"""Intake's HTTP entrances, thin: the signed API for SNS backends (``POST /v1/reports``) and
the public, login-free §22 deletion-request form at ``/request`` with its receipt page.

Both hand a validated ``Submission`` to the process's group commit (``batching.py``), the one
write path that the Kafka worker uses too; a request sent through the form is stored exactly
like one sent by the SNS (source ``form``, client ``web-form``).
"""
from __future__ import annotations

import datetime as dt
import json
import logging

from flask import Blueprint, current_app, render_template, request
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import ValidationError
from webargs import core
from webargs.flaskparser import abort as parser_abort, is_json_request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from shared import clock
from shared.db import utcnow
from shared.settings import env_int, public_url, sns_clients
from shared.signing import SignatureError, verify
from shared.web import ApiBlueprint
from services.intake import receipts
from services.intake.batching import WriterUnavailable
from services.intake.domain import FORM_SOURCE, SignatureReplayed, Submission
from services.intake.forms import (FORM_CLIENT_ID, REQUEST_TYPES, SCHEMA_FIELD_TO_FORM, DeletionRequestForm,
                                   new_submission_key, submission_from_form)
from services.intake.schemas import (MAX_BODY_BYTES, MAX_IDEMPOTENCY_KEY, MAX_REASON, MAX_TEXT,
                                     ReportAcceptedSchema, ReportSubmissionSchema)

log = logging.getLogger(__name__)

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


# ---------------------------------------------------------------- the public form
# A form with every field at its limit, in Japanese, percent-encoded, stays under this.
FORM_MAX_BYTES = MAX_BODY_BYTES
RETRY_AFTER_SECONDS = 30

form_pages = Blueprint("public", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/request-static")

CSRF_EXPIRED = "画面を開いてから時間がたったため、送信できませんでした。内容はそのまま残っていますので、もう一度「送信する」を押してください。"


@form_pages.after_request
def _page_headers(response):
    # No inline scripts, no framing (clickjacking), no caching of personal data.
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers["Cache-Control"] = "no-store"
    return response


@form_pages.app_template_filter("receipt_number")
def receipt_number_filter(number: str | None) -> str:
    return receipts.display(number)


@form_pages.context_processor
def _public_pages():
    """Links to the decision service's public pages, and the periods the notice on personal data
    states: the same settings (and defaults) as the retention jobs that enforce them."""
    decision = public_url("decision")
    return {
        "criteria_url": decision + "/criteria", "transparency_url": decision + "/transparency",
        "retention": {"intake_days": env_int("MODQ_RETENTION_INTAKE_DAYS", 90),
                      "requester_days": env_int("MODQ_RETENTION_REQUESTER_DAYS", 3 * 365),
                      "notice_days": env_int("MODQ_RETENTION_NOTICE_DAYS", 3 * 365)},
    }


@form_pages.get("/request")
def request_form():
    form = DeletionRequestForm(formdata=None, submission_key=new_submission_key())
    return render_template("request_form.html", form=form)


@form_pages.post("/request")
def submit_request_form():
    request.max_content_length = FORM_MAX_BYTES
    form = DeletionRequestForm()
    if not form.validate_on_submit():
        return _form_again(form, 400)
    now = utcnow()
    try:
        payload = ReportSubmissionSchema().load(submission_from_form(form, now))
    except ValidationError as exc:
        _attach_schema_errors(form, exc.messages)
        return _form_again(form, 400)
    submission = Submission(payload, FORM_CLIENT_ID, f"form:{form.submission_key.data}", FORM_SOURCE, now)
    try:
        accepted = current_app.extensions["intake_group_commit"].submit(submission)
    except WriterUnavailable as exc:
        # Nothing was stored (one transaction). Keep what the person wrote on the page.
        log.warning("form request not stored, database unavailable: %s", (exc.__cause__ or exc).__class__.__name__)
        response = _form_again(form, 503, unavailable=True)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return render_template("receipt.html", receipt=_receipt(accepted.result), request_types=dict(REQUEST_TYPES))


def _form_again(form: DeletionRequestForm, status: int, *, unavailable: bool = False):
    csrf_expired = bool(form.errors.pop("csrf_token", None))
    if csrf_expired:
        form.csrf_token.errors = []
    body = render_template("request_form.html", form=form, csrf_expired=csrf_expired and CSRF_EXPIRED,
                           unavailable=unavailable)
    return current_app.response_class(body, status=status, mimetype="text/html")


def _attach_schema_errors(form: DeletionRequestForm, messages: dict, path: tuple = ()) -> None:
    """A second line of defence: the API schema rejected what the form accepted."""
    for key, value in messages.items():
        if isinstance(value, dict):
            _attach_schema_errors(form, value, path + (key,))
            continue
        field = getattr(form, SCHEMA_FIELD_TO_FORM.get(path + (key,), "reason"))
        field.errors = list(field.errors) + ["この内容では受け付けられません。書き方を見直してください。"]


def _receipt(result: dict) -> dict:
    received_at = dt.datetime.fromisoformat(result["received_at"])
    deadline_at = dt.datetime.fromisoformat(result["deadline_at"]) if result["deadline_at"] else None
    return {
        **result,
        "received_text": clock.jst_text(received_at),
        "deadline_text": clock.jst_text(deadline_at) if deadline_at else None,
    }


@form_pages.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    body = render_template("message.html", status=413, title="送信内容が大きすぎます",
                           message=f"送信できる内容は全体で約{FORM_MAX_BYTES // 1024}KBまでです。"
                                   "投稿の内容や理由を短くして、もう一度お試しください。")
    return current_app.response_class(body, status=413, mimetype="text/html")


def rate_limited_page(limit):
    """Flask-Limiter's on_breach: a plain Japanese page instead of an English 429."""
    body = render_template("message.html", status=429, title="送信が続いたため、一時的に受付を止めています",
                           message="しばらく（1時間ほど）待ってから、もう一度お試しください。"
                                   "急ぎの場合や身の危険がある場合は、下の相談窓口や警察にご相談ください。")
    return current_app.response_class(body, status=429, mimetype="text/html")


@form_pages.errorhandler(BadRequest)
def _bad_request(exc):
    body = render_template("message.html", status=400, title="送信内容を読み取れませんでした",
                           message="お手数ですが、フォームを開き直して、もう一度お試しください。")
    return current_app.response_class(body, status=400, mimetype="text/html")
