"""The urgent-case alerts waiting for, or done with, delivery to the operator's webhook: one row
per case, written in the transaction that made the case urgent (an outbox of its own, since the
webhook is not a Kafka topic)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime
from services.decision.models import Base


class UrgentAlert(Base):
    __tablename__ = "urgent_alerts"
    # The delivery job reads "not delivered, due now" only.
    __table_args__ = (sa.Index("ix_urgent_alerts_due", "delivered_at", "next_attempt_at"),)

    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"), primary_key=True)
    # What the case looked like when it became urgent: the alert says that, not later changes.
    priority: Mapped[float] = mapped_column(sa.Float, nullable=False)
    category: Mapped[str | None] = mapped_column(sa.String(32))
    deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(sa.String(16), nullable=False)  # at_risk | threat
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    # None once delivered or given up; while a delivery is in flight, the end of its lease.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
