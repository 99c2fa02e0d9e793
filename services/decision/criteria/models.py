"""The published deletion criteria (§26), clause by clause, and the amendments owed after an
urgent, unforeseen measure (§26(3))."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime
from services.decision.models import Base


class CriteriaVersion(Base):
    """A version of the published deletion criteria (送信防止措置の実施に関する基準, §26)."""

    __tablename__ = "criteria_versions"

    version: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="draft")  # draft | published
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    # Development data only: published_at was set in the past so the criteria apply at once;
    # the public page says so. Production criteria are dated when the operator publishes them.
    backdated: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False, server_default=sa.false())

class Clause(Base):
    __tablename__ = "criteria_clauses"

    version: Mapped[str] = mapped_column(sa.ForeignKey("criteria_versions.version"), primary_key=True)
    clause_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    category: Mapped[str | None] = mapped_column(sa.String(32))
    routes: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)  # request | report | own_detection
    measures: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    covers_suspension: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    examples: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)

class CriteriaAmendmentDue(Base):
    """A measure taken for an urgent, unforeseen type of content (§26 ただし書): the criteria
    must be amended promptly (§26(3)); open until a version is published after it."""

    __tablename__ = "criteria_amendments_due"

    decision_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    summary: Mapped[str] = mapped_column(sa.Text, nullable=False)
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    resolved_by_version: Mapped[str | None] = mapped_column(sa.String(32))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
