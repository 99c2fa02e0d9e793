"""Sign-in (Flask-Login sessions for the web view; HTTP Basic or bearer tokens for the API)
and role checks."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib

import sqlalchemy as sa
from flask import abort, current_app, g, request
from flask_login import LoginManager, UserMixin, current_user
from werkzeug.security import check_password_hash

from shared.db import utcnow
from services.decision.models import ApiToken, User

login_manager = LoginManager()
login_manager.login_view = "web.login"
login_manager.login_message = None
login_manager.session_protection = "strong"

# Which roles may do what. Auditors read, never write.
CAN_DECIDE = {"moderator", "specialist", "supervisor", "admin"}
CAN_READ_QUEUE = {"moderator", "specialist", "supervisor", "admin", "auditor"}
CAN_SEE_CONTACTS = {"specialist", "supervisor", "admin"}
CAN_AUDIT = {"auditor", "supervisor", "admin"}
CAN_ADMIN = {"admin"}
# The SNS's service account hands in posters' replies to inquiries (§3(2)(ii)); nothing else.
CAN_HAND_IN_REPLIES = {"sns", "admin"}


class SessionUser(UserMixin):
    def __init__(self, user: User):
        self.user = user
        self.id = str(user.id)

    def __getattr__(self, name):
        return getattr(self.user, name)


def _db():
    return current_app.config["RUNTIME"].db


@login_manager.user_loader
def load_user(user_id: str):
    with _db().sessions() as session:
        user = session.get(User, int(user_id)) if user_id.isdigit() else None
        return SessionUser(user) if user is not None and user.active else None


def check_password(email: str, password: str) -> User | None:
    with _db().sessions() as session:
        user = session.scalar(sa.select(User).where(User.email == (email or "").strip().lower()))
        if user is None or not user.active or not check_password_hash(user.password_hash, password or ""):
            return None
        return user


def api_user() -> User | None:
    """The user behind an API request: HTTP Basic (email/password) or ``Bearer <token>``."""
    if "api_user" in g:
        return g.api_user
    user = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        digest = hashlib.sha256(header[7:].strip().encode()).hexdigest()
        with _db().sessions() as session:
            token = session.scalar(sa.select(ApiToken).where(ApiToken.token_sha256 == digest))
            if token is not None and (token.expires_at is None or token.expires_at > utcnow()):
                user = session.get(User, token.user_id)
    elif request.authorization and request.authorization.type == "basic":
        user = check_password(request.authorization.username, request.authorization.password)
    elif current_user.is_authenticated:
        user = current_user.user
    if user is not None and not user.active:
        user = None
    g.api_user = user
    return user


def require_api_role(roles: set[str]):
    from flask_smorest import abort as api_abort

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            user = api_user()
            if user is None:
                api_abort(401, message="authentication required (HTTP Basic or Bearer token)")
            if user.role not in roles:
                api_abort(403, message=f"role {user.role!r} may not do this")
            return fn(*args, **kwargs)
        return wrapper
    return decorator


def require_role(roles: set[str]):
    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return fn(*args, **kwargs)
        return wrapper
    return decorator
