"""Sign-in (Flask-Login sessions for the web view; HTTP Basic or bearer tokens for the API)
and the views' role guards. The rules themselves are in users/roles.py."""
from __future__ import annotations

import functools
import hashlib

import sqlalchemy as sa
from flask import abort, current_app, g, request
from flask_login import LoginManager, UserMixin, current_user

from shared.db import utcnow
from services.decision.pages import current_db
from services.decision.users import signin
from services.decision.users.models import ApiToken, User
from services.decision.users.roles import may

login_manager = LoginManager()
login_manager.login_view = "users.login"
login_manager.login_message = None
login_manager.session_protection = "strong"

class SessionUser(UserMixin):
    """The signed-in user of a web session. Flask-Login keeps ``get_id()`` in the cookie: the
    server-side session's token, not the user id, so a signed-out session stays signed out."""

    def __init__(self, user: User, session_token: str):
        self.user = user
        self.session_token = session_token
        self.id = str(user.id)

    def get_id(self) -> str:
        return self.session_token

    def __getattr__(self, name):
        return getattr(self.user, name)


@login_manager.user_loader
def load_user(session_token: str):
    with current_db().sessions() as session:
        user = signin.web_session_user(session, session_token)
        return SessionUser(user, session_token) if user is not None else None


def client_address() -> str:
    return request.remote_addr or "-"


def sign_in_form(email: str, password: str) -> User | None:
    """The web view's sign-in (throttled; raises signin.Throttled)."""
    return signin.sign_in(current_db(), current_app.extensions["signin_throttle"], email, password, client_address())


def _basic_user() -> User | None:
    from flask_smorest import abort as api_abort

    credentials = request.authorization
    try:
        return signin.basic_sign_in(current_db(), current_app.extensions["signin_throttle"],
                                    current_app.extensions["basic_credentials"],
                                    credentials.username or "", credentials.password or "", client_address())
    except signin.Throttled as exc:
        g.retry_after = exc.retry_after
        api_abort(429, message=str(exc))


def _cookie_user() -> User | None:
    """A web session may use the API from the browser; a write then needs the CSRF token
    (header X-CSRFToken) as a form would."""
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        current_app.extensions["csrf"].protect()  # checks writes only (WTF_CSRF_METHODS)
    return current_user.user


def api_user() -> User | None:
    """The user behind an API request: HTTP Basic (email/password) or ``Bearer <token>``."""
    if "api_user" in g:
        return g.api_user
    user = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        digest = hashlib.sha256(header[7:].strip().encode()).hexdigest()
        with current_db().sessions() as session:
            token = session.scalar(sa.select(ApiToken).where(ApiToken.token_sha256 == digest))
            if token is not None and (token.expires_at is None or token.expires_at > utcnow()):
                user = session.get(User, token.user_id)
    elif request.authorization and request.authorization.type == "basic":
        user = _basic_user()
    elif current_user.is_authenticated:
        user = _cookie_user()
    if user is not None and not user.active:
        user = None
    g.api_user = user
    return user


def require_api_role(roles: frozenset[str]):
    from flask_smorest import abort as api_abort

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            user = api_user()
            if user is None:
                api_abort(401, message="authentication required (HTTP Basic or Bearer token)")
            if not may(user.role, roles):
                api_abort(403, message=f"role {user.role!r} may not do this")
            return fn(*args, **kwargs)
        return wrapper
    return decorator


def require_role(roles: frozenset[str]):
    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not may(current_user.role, roles):
                abort(403)
            return fn(*args, **kwargs)
        return wrapper
    return decorator
