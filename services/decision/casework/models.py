"""Tables of team work around a case: reason templates per clause, internal notes, case
assignments, saved queue filters and each moderator's viewing settings."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime
from services.decision.models import Base


class ReasonTemplate(Base):
    """Starting text for a decision citing a clause (or answering without one): the internal
    note, what the requesters are told and what the poster is told, each apart."""

    __tablename__ = "reason_templates"

    key: Mapped[str] = mapped_column(sa.String(32), primary_key=True)  # a clause id or an action
    internal_note: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    requester_text: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    poster_text: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    updated_by: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)


class CaseNote(Base):
    """A moderator's internal note on a case: never shown to requesters or the poster."""

    __tablename__ = "case_notes"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"), nullable=False, index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False)
    text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)


class SavedFilter(Base):
    __tablename__ = "saved_filters"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    query: Mapped[str] = mapped_column(sa.String(1000), nullable=False)


class ViewerSetting(Base):
    """Per-moderator wellness settings: media stay blurred and grey until clicked, unless the
    moderator chose to see them as they are."""

    __tablename__ = "viewer_settings"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    reveal_media: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)


class CaseAssignment(Base):
    """A case given to one moderator by a supervisor: theirs to take next (``n`` skips it for
    everyone else). Unlike a claim it has no lease; it ends with the decision or a new assignment."""

    __tablename__ = "case_assignments"

    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    assigned_by: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
