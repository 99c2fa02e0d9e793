"""Signing in: password checks that take as long for an unknown account as for a known one,
throttling of failed attempts per account and per address, a short-lived cache of verified
HTTP Basic credentials (so an API client does not cost a password hash per request), and
server-side web sessions (a new one at each sign-in, revoked at sign-out)."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from urllib.parse import urlsplit

import sqlalchemy as sa
from limits import parse, storage as limits_storage, strategies
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from shared.db import Database, utcnow
from shared.settings import env, env_int
from services.decision.users.models import User, WebSession

SESSION_LIFETIME = dt.timedelta(hours=8)
# Checked against when the account does not exist, so that the answer takes as long.
_UNKNOWN_ACCOUNT_HASH = generate_password_hash(secrets.token_hex(16))


class Throttled(Exception):
    """Too many failed sign-ins; ``retry_after`` seconds until the next attempt is heard."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed sign-ins; retry after {retry_after} s")
        self.retry_after = retry_after


class SignInThrottle:
    """Failed attempts in a moving window, per account and per client address. Storage is
    in-process by default; MODQ_DECISION_RATELIMIT_STORAGE (e.g. redis://…) shares it between
    web workers and replicas."""

    def __init__(self):
        self.limiter = strategies.MovingWindowRateLimiter(
            limits_storage.storage_from_string(env("MODQ_DECISION_RATELIMIT_STORAGE", "memory://")))
        self.per_account = parse(env("MODQ_SIGNIN_LIMIT_PER_ACCOUNT", "5/15 minutes"))
        self.per_address = parse(env("MODQ_SIGNIN_LIMIT_PER_ADDRESS", "20/15 minutes"))

    def _limits(self, account: str, address: str):
        return ((self.per_account, "account", account), (self.per_address, "address", address))

    def check(self, account: str, address: str) -> None:
        for item, kind, key in self._limits(account, address):
            if not self.limiter.test(item, "signin", kind, key):
                reset_at = self.limiter.get_window_stats(item, "signin", kind, key).reset_time
                raise Throttled(max(1, int(reset_at - time.time()) + 1))

    def failed(self, account: str, address: str) -> None:
        for item, kind, key in self._limits(account, address):
            self.limiter.hit(item, "signin", kind, key)

    def succeeded(self, account: str) -> None:
        self.limiter.clear(self.per_account, "signin", "account", account)


def normal_email(email: str | None) -> str:
    return (email or "").strip().lower()


def verify_password(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(sa.select(User).where(User.email == normal_email(email)))
    if user is None or not user.active:
        check_password_hash(_UNKNOWN_ACCOUNT_HASH, password or "")
        return None
    return user if check_password_hash(user.password_hash, password or "") else None


def sign_in(db: Database, throttle: SignInThrottle, email: str, password: str, address: str) -> User | None:
    """The user, or None for a wrong e-mail or password; raises Throttled before any check
    when the account or the address has failed too often."""
    account = normal_email(email)
    throttle.check(account, address)
    with db.sessions() as session:
        user = verify_password(session, account, password)
    if user is None:
        throttle.failed(account, address)
        return None
    throttle.succeeded(account)
    return user


class VerifiedBasicCredentials:
    """Basic credentials verified in the last few minutes, keyed by an HMAC under a per-process
    key (the password itself is never held). A hit still requires the account to be active and
    its password hash unchanged, so a password change or a deactivation takes effect at once."""

    def __init__(self, ttl_seconds: int | None = None, size: int = 1024):
        self.ttl = env_int("MODQ_BASIC_AUTH_CACHE_SECONDS", 300) if ttl_seconds is None else ttl_seconds
        self.size = size
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, tuple[int, str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _digest(self, email: str, password: str) -> bytes:
        return hmac.new(self._key, f"{normal_email(email)}\0{password}".encode("utf-8"), hashlib.sha256).digest()

    def lookup(self, session: Session, email: str, password: str) -> User | None:
        digest = self._digest(email, password)
        with self._lock:
            entry = self._entries.get(digest)
        if entry is None or entry[2] < time.monotonic():
            return None
        user = session.get(User, entry[0])
        if user is None or not user.active or user.password_hash != entry[1]:
            return None
        return user

    def remember(self, email: str, password: str, user: User) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[self._digest(email, password)] = (user.id, user.password_hash, time.monotonic() + self.ttl)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def basic_sign_in(db: Database, throttle: SignInThrottle, cache: VerifiedBasicCredentials,
                  email: str, password: str, address: str) -> User | None:
    with db.sessions() as session:
        user = cache.lookup(session, email, password)
    if user is not None:
        return user
    user = sign_in(db, throttle, email, password, address)
    if user is not None:
        cache.remember(email, password, user)
    return user


# --- web sessions -------------------------------------------------------------------------

def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_web_session(db: Database, user: User, now: dt.datetime | None = None) -> str:
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    with db.unit_of_work() as uow:
        uow.session.add(WebSession(token_sha256=_token_digest(token), user_id=user.id, created_at=now,
                                   expires_at=now + SESSION_LIFETIME))
        uow.commit()
    return token


def web_session_user(session: Session, token: str, now: dt.datetime | None = None) -> User | None:
    if not token or len(token) > 200:
        return None
    row = session.get(WebSession, _token_digest(token))
    if row is None or row.revoked_at is not None or row.expires_at <= (now or utcnow()):
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def revoke_web_session(db: Database, token: str | None) -> None:
    if not token:
        return
    with db.unit_of_work() as uow:
        uow.session.execute(sa.update(WebSession).where(WebSession.token_sha256 == _token_digest(token))
                            .values(revoked_at=utcnow()).execution_options(synchronize_session=False))
        uow.commit()


def safe_next(target: str | None) -> str | None:
    """``next=`` only as a path on this host: no scheme, no host, no backslash, no control or
    white-space characters (browsers drop a tab, turning ``/\\t/evil`` into ``//evil``)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ch == "\\" or ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7f for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
