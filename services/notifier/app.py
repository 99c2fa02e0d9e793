"""Notifier's Flask app: notice look-up and delivery state for operators and SNS backends."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app
from flask.views import MethodView
from flask_smorest import Api, abort

from shared.web import ApiBlueprint
from marshmallow import Schema, fields, validate

from shared.runtime import Runtime
from shared.web import install_common
from services.notifier.models import Notice, NoticeException, Outbox

MIGRATIONS = Path(__file__).parent / "migrations"


def make_runtime() -> Runtime:
    return Runtime.for_service("notifier", Outbox, MIGRATIONS)


class NoticeQuerySchema(Schema):
    case_id = fields.String(load_default=None, validate=validate.Length(max=64))
    status = fields.String(load_default=None, validate=validate.OneOf(("sent", "held", "delivered", "failed", "unreachable")))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class NoticeOutSchema(Schema):
    notice_id = fields.String()
    notice_type = fields.String()
    legal_basis = fields.String()
    case_id = fields.String()
    request_id = fields.String(allow_none=True)
    decision_id = fields.String(allow_none=True)
    status = fields.String()
    held_reason = fields.String(allow_none=True)
    issued_at = fields.String()
    delivered_at = fields.String(allow_none=True)
    text_ja = fields.String()


class NoticeListSchema(Schema):
    notices = fields.List(fields.Nested(NoticeOutSchema))
    exceptions = fields.List(fields.Dict())


blp = ApiBlueprint("notices", __name__, url_prefix="/v1", description="Notices and their delivery")


def _out(n: Notice) -> dict:
    return {"notice_id": n.notice_id, "notice_type": n.notice_type, "legal_basis": n.legal_basis,
            "case_id": n.case_id, "request_id": n.request_id, "decision_id": n.decision_id, "status": n.status,
            "held_reason": n.held_reason, "issued_at": n.issued_at.isoformat(),
            "delivered_at": n.delivered_at.isoformat() if n.delivered_at else None,
            "text_ja": n.body.get("text_ja", "")}


@blp.route("/notices")
class Notices(MethodView):
    @blp.arguments(NoticeQuerySchema, location="query")
    @blp.response(200, NoticeListSchema)
    def get(self, args):
        """Notices (newest first), filtered by case or status, and exceptions recorded instead."""
        db = current_app.config["RUNTIME"].db
        with db.sessions() as session:
            q = sa.select(Notice).order_by(Notice.issued_at.desc()).limit(args["limit"])
            eq = sa.select(NoticeException).order_by(NoticeException.recorded_at.desc()).limit(args["limit"])
            if args["case_id"]:
                q = q.where(Notice.case_id == args["case_id"])
                eq = eq.where(NoticeException.case_id == args["case_id"])
            if args["status"]:
                q = q.where(Notice.status == args["status"])
            return {"notices": [_out(n) for n in session.scalars(q)],
                    "exceptions": [{"id": e.id, "notice_type": e.notice_type, "reason_code": e.reason_code,
                                    "detail": e.detail, "case_id": e.case_id, "request_id": e.request_id}
                                   for e in session.scalars(eq)]}



def create_app(runtime: Runtime | None = None) -> Flask:
    runtime = runtime or make_runtime()
    app = Flask(__name__)
    app.config.update(API_TITLE="modq notifier", API_VERSION="1.0.0", OPENAPI_VERSION="3.1.0",
                      OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json", RUNTIME=runtime)
    api = Api(app)
    api.register_blueprint(blp)
    install_common(app, "notifier", runtime.health_checks())
    return app
