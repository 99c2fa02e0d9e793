"""Classifier's Flask app: synchronous scoring for the SNS compose box (pre-post nudge)."""
from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask, current_app, request
from flask.views import MethodView
from flask_smorest import abort
from shared.web import Api

from shared.web import ApiBlueprint
from marshmallow import Schema, fields, validate

from shared.runtime import Runtime
from shared.settings import env_float, sns_clients
from shared.signing import ReplayGuard, SignatureError, verify
from shared.web import install_common
from services.classifier.models import Outbox

MIGRATIONS = Path(__file__).parent / "migrations"
MAX_TEXTS = 64
MAX_TEXT_CHARS = 20000


def make_runtime() -> Runtime:
    return Runtime.for_service("classifier", Outbox, MIGRATIONS)


class ModelHolder:
    """Loads the model once per process, in the background, so /readyz can say 'not yet'."""

    def __init__(self):
        self._model = None
        self._error: str | None = None
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._load, daemon=True).start()

    def _load(self) -> None:
        try:
            from services.classifier.inference import AbuseClassifier

            self._model = AbuseClassifier()
        except Exception as exc:  # reported by /healthz and 503s
            self._error = f"{exc.__class__.__name__}: {exc}"

    @property
    def model(self):
        return self._model

    def ready(self) -> bool:
        self.start()
        return self._model is not None


class ScoreRequestSchema(Schema):
    text = fields.String(validate=validate.Length(max=MAX_TEXT_CHARS))
    texts = fields.List(fields.String(validate=validate.Length(max=MAX_TEXT_CHARS)),
                        validate=validate.Length(min=1, max=MAX_TEXTS))


class ScoreResultSchema(Schema):
    score = fields.Float(required=True, metadata={
        "description": "Calibrated probability that a person would call the text abusive (0-1)."})
    categories = fields.Dict(keys=fields.String(), values=fields.Float())
    model_version = fields.String()
    nudge = fields.Boolean(metadata={
        "description": "true when score >= MODQ_NUDGE_THRESHOLD (default 0.5, on the calibrated score; "
                       "about 1 in 10 rough but benign posts or fewer reach it): show 「このまま投稿しますか？」"})
    nudge_message = fields.String(allow_none=True)


class ScoreResponseSchema(Schema):
    results = fields.List(fields.Nested(ScoreResultSchema))


NUDGE_MESSAGE = ("この投稿は相手を傷つける表現を含んでいるかもしれません。このまま投稿しますか？"
                 "（送信前にもう一度読み返してみましょう）")

blp = ApiBlueprint("score", __name__, url_prefix="/v1", description="Abuse scores (HMAC-signed, as intake)")

SIGNATURE_HEADERS = [{"in": "header", "name": name, "required": True, "schema": {"type": "string"}}
                     for name in ("X-Modq-Client", "X-Modq-Timestamp", "X-Modq-Signature")]


@blp.before_request
def _require_sns_signature():
    # Scoring costs CPU and the texts are users' unpublished drafts: only a registered SNS backend
    # may call it, and a captured request cannot be sent again (the guard is per process; a
    # replay to another worker within the timestamp tolerance costs one scoring, no data).
    try:
        verify(request.headers, request.get_data(cache=True), sns_clients(),
               replay=current_app.config["SIGNATURE_REPLAY"])
    except SignatureError as exc:
        abort(401, message=str(exc))


@blp.route("/score")
class ScoreView(MethodView):
    @blp.doc(parameters=SIGNATURE_HEADERS)
    @blp.arguments(ScoreRequestSchema, location="json")
    @blp.response(200, ScoreResponseSchema)
    @blp.alt_response(401, description="Missing, unknown, stale or wrong signature")
    @blp.alt_response(503, description="Model not loaded yet")
    def post(self, body):
        """Score one text (``text``) or up to 64 (``texts``); returns a nudge flag per text."""
        texts = body.get("texts") or ([body["text"]] if "text" in body else None)
        if texts is None:
            abort(400, message="give 'text' or 'texts'", errors={"json": {"text": ["required"]}})
        holder: ModelHolder = current_app.config["MODEL"]
        if not holder.ready():
            abort(503, message="model is loading")
        threshold = env_float("MODQ_NUDGE_THRESHOLD", 0.5)
        results = holder.model.score(texts)
        for r in results:
            r["nudge"] = r["score"] >= threshold
            r["nudge_message"] = NUDGE_MESSAGE if r["nudge"] else None
        return {"results": results}



def create_app(runtime: Runtime | None = None) -> Flask:
    runtime = runtime or make_runtime()
    app = Flask(__name__)
    holder = ModelHolder()
    app.config.update(API_TITLE="modq classifier", API_VERSION="1.0.0", OPENAPI_VERSION="3.1.0",
                      OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json", RUNTIME=runtime,
                      MODEL=holder, SIGNATURE_REPLAY=ReplayGuard(), MAX_CONTENT_LENGTH=2 * 1024 * 1024)
    api = Api(app)
    api.register_blueprint(blp)
    install_common(app, "classifier", {**runtime.health_checks(), "model": holder.ready})
    holder.start()
    return app
