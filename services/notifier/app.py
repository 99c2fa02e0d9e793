"""Notifier's Flask app: notice look-up, delivery state and §28 counts for operators and SNS
backends. Every /v1 endpoint shows personal data, so it needs a bearer token
(MODQ_NOTIFIER_API_TOKENS); /healthz, /readyz and /metrics stay open for probes."""
from __future__ import annotations

import hmac
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app, request
from flask.views import MethodView
from shared.web import Api
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.clock import parse_instant
from shared.runtime import Runtime
from shared.web import ApiBlueprint, install_common, json_error
from services.notifier import config
from services.notifier.models import Notice, NoticeException, Outbox
from services.notifier.stats import notice_stats

MIGRATIONS = Path(__file__).parent / "migrations"
STATUSES = ("sent", "held", "delivered", "failed", "unreachable")


def make_runtime() -> Runtime:
    return Runtime.for_service("notifier", Outbox, MIGRATIONS)


class Instant(fields.String):
    """An ISO 8601 instant with a UTC offset, e.g. 2025-04-01T00:00:00+09:00."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_instant(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as exc:
            raise ValidationError(f"not an ISO 8601 instant with offset: {exc}") from None


class NoticeQuerySchema(Schema):
    case_id = fields.String(load_default=None, validate=validate.Length(max=64))
    request_id = fields.String(load_default=None, validate=validate.Length(max=64))
    decision_id = fields.String(load_default=None, validate=validate.Length(max=64))
    notice_type = fields.String(load_default=None, validate=validate.OneOf(("ACK", "N1", "N2", "N3", "N4", "INQ")))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class PeriodSchema(Schema):
    from_ = Instant(data_key="from", load_default=None)
    to = Instant(load_default=None)

    @validates_schema
    def _ordered(self, data, **_kwargs):
        if data["from_"] and data["to"] and data["from_"] >= data["to"]:
            raise ValidationError("must be after 'from'", "to")


class NoticeOutSchema(Schema):
    notice_id = fields.String()
    notice_type = fields.String()
    legal_basis = fields.String()
    case_id = fields.String()
    request_id = fields.String(allow_none=True)
    decision_id = fields.String(allow_none=True)
    recipient_id = fields.String()
    status = fields.String()
    held_reason = fields.String(allow_none=True)
    issued_at = fields.String()
    delivered_at = fields.String(allow_none=True)
    attempts = fields.Integer()
    failures = fields.Integer()
    next_attempt_at = fields.String(allow_none=True)
    reply_deadline_at = fields.String(allow_none=True)
    measure = fields.String(allow_none=True)
    clause_id = fields.String(allow_none=True)
    delay_item = fields.String(allow_none=True)
    text_ja = fields.String()


class ExceptionOutSchema(Schema):
    id = fields.String()
    notice_type = fields.String()
    reason_code = fields.String()
    legal_basis = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
    case_id = fields.String()
    request_id = fields.String(allow_none=True)
    decision_id = fields.String(allow_none=True)
    related_notice_id = fields.String(allow_none=True)
    fallback = fields.String(allow_none=True)
    recorded_at = fields.String()


class NoticeListSchema(Schema):
    notices = fields.List(fields.Nested(NoticeOutSchema))
    exceptions = fields.List(fields.Nested(ExceptionOutSchema))


class StatsSchema(Schema):
    from_ = fields.String(data_key="from", attribute="from", allow_none=True)
    to = fields.String(allow_none=True)
    notices = fields.List(fields.Dict())
    exceptions = fields.List(fields.Dict())
    held = fields.List(fields.Dict())


blp = ApiBlueprint("notices", __name__, url_prefix="/v1", description="Notices and their delivery")


@blp.before_request
def _require_token():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token and _known_token(token.strip()):
        return None
    response = json_error(401, "a valid bearer token is required (Authorization: Bearer …)")
    response.headers["WWW-Authenticate"] = 'Bearer realm="modq-notifier"'
    return response


def _known_token(token: str) -> bool:
    # compare_digest against every token so the time taken does not reveal a prefix match
    return any([hmac.compare_digest(token.encode(), known.encode()) for known in config.api_tokens()])


def _iso(value):
    return value.isoformat() if value is not None else None


def _notice_out(n: Notice) -> dict:
    return {"notice_id": n.notice_id, "notice_type": n.notice_type, "legal_basis": n.legal_basis,
            "case_id": n.case_id, "request_id": n.request_id, "decision_id": n.decision_id,
            "recipient_id": n.recipient_id, "status": n.status, "held_reason": n.held_reason,
            "issued_at": n.issued_at.isoformat(), "delivered_at": _iso(n.delivered_at), "attempts": n.attempts,
            "failures": n.failures, "next_attempt_at": _iso(n.next_attempt_at),
            "reply_deadline_at": _iso(n.reply_deadline_at), "measure": n.measure, "clause_id": n.clause_id,
            "delay_item": n.delay_item, "text_ja": n.body.get("text_ja", "")}


def _exception_out(e: NoticeException) -> dict:
    return {"id": e.id, "notice_type": e.notice_type, "reason_code": e.reason_code, "legal_basis": e.legal_basis,
            "detail": e.detail, "case_id": e.case_id, "request_id": e.request_id, "decision_id": e.decision_id,
            "related_notice_id": e.related_notice_id, "fallback": e.fallback, "recorded_at": e.recorded_at.isoformat()}


@blp.route("/notices")
class Notices(MethodView):
    @blp.arguments(NoticeQuerySchema, location="query")
    @blp.response(200, NoticeListSchema)
    def get(self, args):
        """Notices (newest first) and the exceptions recorded instead of a notice."""
        db = current_app.config["RUNTIME"].db
        q = sa.select(Notice).order_by(Notice.issued_at.desc()).limit(args["limit"])
        eq = sa.select(NoticeException).order_by(NoticeException.recorded_at.desc()).limit(args["limit"])
        for key in ("case_id", "request_id", "decision_id"):
            if args[key]:
                q = q.where(getattr(Notice, key) == args[key])
                eq = eq.where(getattr(NoticeException, key) == args[key])
        if args["notice_type"]:
            q = q.where(Notice.notice_type == args["notice_type"])
        if args["status"]:
            q = q.where(Notice.status == args["status"])
        with db.sessions() as session:
            return {"notices": [_notice_out(n) for n in session.scalars(q)],
                    "exceptions": [_exception_out(e) for e in session.scalars(eq)]}


@blp.route("/notices/stats")
class NoticeStats(MethodView):
    @blp.arguments(PeriodSchema, location="query")
    @blp.response(200, StatsSchema)
    def get(self, args):
        """Counts for the §28 report over [from, to): notices by type, basis, measure and §25(2)
        item; exceptions by type and reason; held notices."""
        with current_app.config["RUNTIME"].db.sessions() as session:
            return notice_stats(session, args["from_"], args["to"])


def create_app(runtime: Runtime | None = None) -> Flask:
    runtime = runtime or make_runtime()
    app = Flask(__name__)
    app.config.update(API_TITLE="modq notifier", API_VERSION="1.0.0", OPENAPI_VERSION="3.1.0",
                      OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json", RUNTIME=runtime)
    api = Api(app)
    api.register_blueprint(blp)
    install_common(app, "notifier", runtime.health_checks())
    return app
