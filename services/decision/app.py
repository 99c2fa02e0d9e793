"""Decision service Flask app: the moderators' web view and the JSON API."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, request, session
from flask_babel import Babel
from flask_login import current_user
from shared.web import Api
from flask_wtf.csrf import CSRFProtect

from shared.runtime import Runtime
from shared.settings import secure_cookies
from shared.web import install_common
from services.decision.all_models import Outbox

MIGRATIONS = Path(__file__).parent / "migrations"
LOCALES = ("ja", "en")


def make_runtime() -> Runtime:
    return Runtime.for_service("decision", Outbox, MIGRATIONS)



def select_locale() -> str:
    wanted = request.args.get("lang")
    if wanted in LOCALES:
        session["lang"] = wanted
        return wanted
    if session.get("lang") in LOCALES:
        return session["lang"]
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user.locale or "ja"
    return "ja"  # Japanese first


def create_app(runtime: Runtime | None = None) -> Flask:
    runtime = runtime or make_runtime()
    app = Flask(__name__)
    app.config.update(
        API_TITLE="modq decision", API_VERSION="1.0.0", OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json",
        SECRET_KEY=runtime.settings.secret_key, RUNTIME=runtime, MAX_CONTENT_LENGTH=1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies(), REMEMBER_COOKIE_SECURE=secure_cookies(),
        PERMANENT_SESSION_LIFETIME=8 * 3600, WTF_CSRF_TIME_LIMIT=8 * 3600,
        BABEL_DEFAULT_LOCALE="ja", BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
    )
    from services.decision.audit import public as audit_public
    from services.decision.audit import views as audit_views
    from services.decision.cases import views as case_views
    from services.decision.casework import views as casework_views
    from services.decision.criteria import views as criteria_views
    from services.decision.decisions import views as decision_views
    from services.decision.inquiries import views as inquiry_views
    from services.decision.users import views as user_views
    from services.decision.users.auth import login_manager
    from services.decision.users.signin import SignInThrottle, VerifiedBasicCredentials
    from services.decision import pages

    csrf = CSRFProtect(app)
    login_manager.init_app(app)
    app.extensions["signin_throttle"] = SignInThrottle()
    app.extensions["basic_credentials"] = VerifiedBasicCredentials()
    Babel(app, locale_selector=select_locale)

    @app.context_processor
    def _locale():
        from flask_babel import get_locale

        return {"current_locale": str(get_locale() or "ja")}

    # Each concept's pages (one blueprint each) and its part of the JSON API.
    for blueprint in (pages.bp, user_views.bp, case_views.bp, decision_views.bp, criteria_views.bp,
                      audit_public.bp, casework_views.bp):
        app.register_blueprint(blueprint)
    app.before_request(audit_public.redirect_browsers_to_the_public_page)
    smorest = Api(app)
    # The API authenticates every request itself (Basic/Bearer); a browser's session cookie there
    # must bring the CSRF token for writes (services/decision/users/auth.py).
    for api_blueprint in (case_views.blp, decision_views.blp, inquiry_views.blp, criteria_views.blp,
                          audit_views.blp):
        csrf.exempt(api_blueprint)
        smorest.register_blueprint(api_blueprint)
    install_common(app, "decision", runtime.health_checks())

    _install_security_headers(app)
    return app


def _install_security_headers(app: Flask) -> None:
    # Media previews on the case page load from the SNS's media host(s), and only from there.
    media_origins = " ".join(o for o in os.environ.get("MODQ_MEDIA_ORIGINS", "").split() if o.startswith("https://"))

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy",
                                    f"default-src 'self'; img-src 'self' data: {media_origins}; style-src 'self'; "
                                    "script-src 'self'".replace("  ", " "))
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
