"""Intake's Flask app (served by gunicorn: ``services.intake.app:create_app()``)."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from shared.web import Api

from shared.runtime import Runtime
from shared.settings import env, secure_cookies
from shared.web import ServiceFlask, install_common
from services.intake.batching import group_commit_for
from services.intake.models import Outbox

MIGRATIONS = Path(__file__).parent / "migrations"

# Per client IP, on POST /request only. Memory storage is per gunicorn worker; set
# MODQ_INTAKE_RATELIMIT_STORAGE to e.g. redis://host:6379 to share the count.
DEFAULT_FORM_RATE_LIMIT = "5 per minute; 30 per hour"


def make_runtime() -> Runtime:
    return Runtime.for_service("intake", Outbox, MIGRATIONS)


def create_app(runtime: Runtime | None = None) -> Flask:
    runtime = runtime or make_runtime()
    app = ServiceFlask(__name__)
    app.sessionless_prefixes = ("/v1/",)  # the signed API; the public form keeps its session
    app.config.update(
        API_TITLE="modq intake",
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        SECRET_KEY=runtime.settings.secret_key,
        MAX_CONTENT_LENGTH=1024 * 1024,
        RUNTIME=runtime,
        # The form's CSRF token only needs the session cookie; writing a request can take long,
        # and an expired token re-shows the form with everything kept.
        WTF_CSRF_TIME_LIMIT=6 * 3600,
        WTF_I18N_ENABLED=False,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=secure_cookies(),
    )
    from services.intake import views

    def authenticated():
        if "auth" not in g:
            g.auth = views.authenticate()
        return g.auth

    app.config["AUTHENTICATED"] = authenticated
    app.extensions["intake_group_commit"] = group_commit_for(runtime.db)
    api = Api(app)

    api.register_blueprint(views.blp)
    app.register_blueprint(views.form_pages)
    _limit_the_form(app, views)
    install_common(app, "intake", runtime.health_checks())
    return app


def _limit_the_form(app: Flask, views) -> None:
    limiter = Limiter(get_remote_address, app=app,
                      storage_uri=env("MODQ_INTAKE_RATELIMIT_STORAGE", "memory://"),
                      headers_enabled=True, swallow_errors=True)
    # swallow_errors: if a shared rate-limit store is down, people can still file requests.
    endpoint = "public.submit_request_form"
    app.view_functions[endpoint] = limiter.limit(
        env("MODQ_INTAKE_FORM_RATE_LIMIT", DEFAULT_FORM_RATE_LIMIT), methods=["POST"],
        on_breach=views.rate_limited_page)(app.view_functions[endpoint])
    app.extensions["intake_limiter"] = limiter
    # The limiter hooks into every request of the app by default (a check before, headers
    # after, clean-up at the end); only the public form has a limit (API requests are
    # signed), so its hooks run for the form's blueprint alone.
    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        owned = [hook for hook in hooks.get(None, []) if _belongs_to(hook, limiter)]
        for hook in owned:
            hooks[None].remove(hook)
            hooks.setdefault(views.form_pages.name, []).append(hook)


def _belongs_to(hook, limiter: Limiter) -> bool:
    """A bound method of the limiter, or a partial that binds it (as its headers hook is)."""
    return getattr(hook, "__self__", None) is limiter or limiter in getattr(hook, "args", ())
