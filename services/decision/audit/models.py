"""Audit tables: the hash-chained audit log, and appeals against measures (DSA Art. 20,
counted in the §28 report).

An appeal is never edited after its review; a reversal is a new ``Decision`` that points at
the decision it reverses, so the original record and its notices stay as they were.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime
from services.decision.models import Base
from services.decision.decisions.models import Decision  # noqa: F401  (decision_id's table)

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


class AuditEvent(Base):
    """Append-only, hash-chained log of every state change (never updated or deleted)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    event_type: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    actor: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    payload: Mapped[str] = mapped_column(sa.Text, nullable=False)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    # "hmac-sha256" (keyed with MODQ_AUDIT_KEY); "sha256" only for entries written before keying.
    scheme: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="hmac-sha256",
                                        server_default="sha256")
