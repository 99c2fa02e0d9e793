"""Users: accounts, bearer tokens and the development accounts."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from shared.db import Database, utcnow
from shared.pseudonyms import pseudonym
from services.decision.users import specialists
from services.decision.users.models import ApiToken, User

DEV_USERS = ("moderator", "specialist", "supervisor", "auditor", "admin", "sns")


def create_user(session: Session, email: str, password: str, role: str) -> User:
    user = User(email=email.lower(), password_hash=generate_password_hash(password), role=role,
                pseudonym="mod-" + pseudonym("moderator", email.lower(), 10),
                created_at=utcnow())
    session.add(user)
    session.flush()
    return user


def provision_dev_users(db: Database) -> None:
    """Development credentials: <role>@example.jp with password <role>. Never in production."""
    with db.unit_of_work() as uow:
        for role in DEV_USERS:
            email = f"{role}@example.jp"
            user = uow.session.scalar(sa.select(User).where(User.email == email))
            if user is None:
                user = create_user(uow.session, email, role, role)
            if role == "specialist":
                specialists.appoint_specialist(uow.session, user, by="system:dev-users")
        uow.commit()


def issue_token(db: Database, user_id: int, label: str = "", expires_at: dt.datetime | None = None) -> str:
    token = secrets.token_urlsafe(32)
    with db.unit_of_work() as uow:
        uow.session.add(ApiToken(user_id=user_id, token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                                 label=label, created_at=utcnow(), expires_at=expires_at))
        uow.commit()
    return token
