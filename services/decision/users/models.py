"""Users of the web view and the API, their tokens and web sessions, and the
侵害情報調査専門員 roster (§24)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime
from services.decision.models import Base
from services.decision.users.roles import ROLES  # noqa: F401  (the role column's values)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(200), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    role: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    pseudonym: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)  # shown in logs
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    locale: Mapped[str] = mapped_column(sa.String(8), nullable=False, default="ja")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)

class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False)
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    label: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

class WebSession(Base):
    """A signed-in web view session, so that signing out ends it on the server too (a cookie
    alone would stay valid until it expires). Only the SHA-256 of the session's token is kept."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

class SpecialistAppointment(Base):
    """The 侵害情報調査専門員 roster (§24): who was appointed, by whom, and until when."""

    __tablename__ = "specialist_appointments"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    appointed_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    appointed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    ended_by: Mapped[str | None] = mapped_column(sa.String(200))
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
