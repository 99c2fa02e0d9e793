"""Notifier's Flask app (served by gunicorn: ``services.notifier.app:create_app()``); its API
is in views.py."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from shared.runtime import Runtime
from shared.web import Api, install_common
from services.notifier.models import Outbox

MIGRATIONS = Path(__file__).parent / "migrations"


def make_runtime() -> Runtime:
    return Runtime.for_service("notifier", Outbox, MIGRATIONS)


def create_app(runtime: Runtime | None = None) -> Flask:
    from services.notifier import views

    runtime = runtime or make_runtime()
    app = Flask(__name__)
    app.config.update(API_TITLE="modq notifier", API_VERSION="1.0.0", OPENAPI_VERSION="3.1.0",
                      OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json", RUNTIME=runtime)
    api = Api(app)
    api.register_blueprint(views.blp)
    install_common(app, "notifier", runtime.health_checks())
    return app
