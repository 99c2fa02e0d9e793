"""The public, login-free §22 deletion-request form at ``/request`` and its receipt page.

The form goes through the same schema and the same ``submit_report`` as the API, so a request
sent here is stored exactly like one sent by the SNS (source ``form``, client ``web-form``).
"""
from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, current_app, render_template, request
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from shared import clock
from shared.db import utcnow
from shared.settings import env_int, public_url
from services.intake import receipts
from services.intake.forms import (FORM_CLIENT_ID, REQUEST_TYPES, SCHEMA_FIELD_TO_FORM, DeletionRequestForm,
                                   new_submission_key, submission_from_form)
from services.intake.schemas import MAX_BODY_BYTES, ReportSubmissionSchema
from services.intake.service import FORM_SOURCE, submit_report

log = logging.getLogger(__name__)

# A form with every field at its limit, in Japanese, percent-encoded, stays under this.
FORM_MAX_BYTES = MAX_BODY_BYTES
RETRY_AFTER_SECONDS = 30

public = Blueprint("public", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/request-static")

CSRF_EXPIRED = "画面を開いてから時間がたったため、送信できませんでした。内容はそのまま残っていますので、もう一度「送信する」を押してください。"


@public.after_request
def _page_headers(response):
    # No inline scripts, no framing (clickjacking), no caching of personal data.
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers["Cache-Control"] = "no-store"
    return response


@public.app_template_filter("receipt_number")
def receipt_number_filter(number: str | None) -> str:
    return receipts.display(number)


@public.context_processor
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


@public.get("/request")
def request_form():
    form = DeletionRequestForm(formdata=None, submission_key=new_submission_key())
    return render_template("request_form.html", form=form)


@public.post("/request")
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
    try:
        accepted = submit_report(current_app.config["RUNTIME"].db, payload, client_id=FORM_CLIENT_ID,
                                 idempotency_key=f"form:{form.submission_key.data}", source=FORM_SOURCE, now=now)
    except DBAPIError as exc:
        # Nothing was stored (one transaction). Keep what the person wrote on the page.
        log.warning("form request not stored, database unavailable: %s", exc.__class__.__name__)
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


@public.errorhandler(RequestEntityTooLarge)
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


@public.errorhandler(BadRequest)
def _bad_request(exc):
    body = render_template("message.html", status=400, title="送信内容を読み取れませんでした",
                           message="お手数ですが、フォームを開き直して、もう一度お試しください。")
    return current_app.response_class(body, status=400, mimetype="text/html")
