"""Intake's Flask app (served by gunicorn: ``services.intake.app:create_app()``)."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, g, request
from flask_smorest import Api

from shared.runtime import Runtime
from shared.web import install_common
from services.intake.models import Outbox

MIGRATIONS = Path(__file__).parent / "migrations"


def make_runtime() -> Runtime:
    return Runtime.for_service("intake", Outbox, MIGRATIONS)



def create_app(runtime: Runtime | None = None) -> Flask:
    runtime = runtime or make_runtime()
    app = Flask(__name__)
    app.config.update(
        API_TITLE="modq intake",
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        SECRET_KEY=runtime.settings.secret_key,
        MAX_CONTENT_LENGTH=1024 * 1024,
        RUNTIME=runtime,
    )
    from services.intake import views

    def authenticated():
        if "auth" not in g:
            g.auth = views.authenticate()
        return g.auth

    app.config["AUTHENTICATED"] = authenticated
    api = Api(app)

    api.register_blueprint(views.blp)
    install_common(app, "intake", runtime.health_checks())
    return app
