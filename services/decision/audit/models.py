"""Audit tables: appeals against measures (DSA Art. 20, counted in the §28 report).

An appeal is never edited after its review; a reversal is a new ``Decision`` that points at
the decision it reverses, so the original record and its notices stay as they were.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime
from services.decision.models import Base

APPEAL_STATUSES = ("open", "upheld", "reversed")
APPEAL_OUTCOMES = ("upheld", "reversed")


class Appeal(Base):
    __tablename__ = "appeals"
    __table_args__ = (sa.Index("ix_appeals_status_submitted", "status", "submitted_at"),)

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    decision_id: Mapped[str] = mapped_column(sa.ForeignKey("decisions.id"), nullable=False, index=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"), nullable=False, index=True)
    appellant_id: Mapped[str] = mapped_column(sa.String(200), nullable=False)  # the poster's SNS account id
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)
    channel: Mapped[str] = mapped_column(sa.String(16), nullable=False)  # api | kafka
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="open")
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    reviewed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reviewed_by_role: Mapped[str | None] = mapped_column(sa.String(32))
    review_reason: Mapped[str | None] = mapped_column(sa.Text)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    reversal_decision_id: Mapped[str | None] = mapped_column(sa.String(64))
