"""Intake's HTTP API for SNS backends (HMAC-signed)."""
from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort

from shared.web import ApiBlueprint

from shared.settings import sns_clients
from shared.signing import SignatureError, verify
from services.intake.schemas import MAX_BODY_BYTES, ReportAcceptedSchema, ReportSubmissionSchema
from services.intake.service import SignatureReplayed, submit_report

blp = ApiBlueprint("reports", __name__, url_prefix="/v1", description="Reports and §22 deletion requests")


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


@blp.route("/reports")
class Reports(MethodView):
    @blp.doc(parameters=[
        {"in": "header", "name": "X-Modq-Client", "required": True, "schema": {"type": "string"}},
        {"in": "header", "name": "X-Modq-Timestamp", "required": True, "schema": {"type": "string"}},
        {"in": "header", "name": "X-Modq-Signature", "required": True, "schema": {"type": "string"}},
        {"in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string", "maxLength": 200}},
    ])
    @blp.arguments(ReportSubmissionSchema, location="json")
    @blp.response(202, ReportAcceptedSchema)
    @blp.alt_response(400, description="Malformed JSON or invalid fields (each field with its reason)")
    @blp.alt_response(401, description="Missing, unknown, stale, wrong or replayed signature")
    @blp.alt_response(413, description="Body too large")
    @blp.alt_response(503, description="Database unavailable; retry after the Retry-After seconds")
    def post(self, payload):
        """Submit a report (通報) or a §22 deletion request (削除申出).

        The same Idempotency-Key returns the first result and never creates a second report.
        """
        client_id, signature = current_app.config["AUTHENTICATED"]()
        key = request.headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key) <= 200):
            abort(400, message="Idempotency-Key must be 1–200 characters")
        try:
            accepted = submit_report(current_app.config["RUNTIME"].db, payload, client_id=client_id,
                                     idempotency_key=key, source="http", signature=signature)
        except SignatureReplayed:
            abort(401, message="signature already used (replayed request)")
        return accepted.result
