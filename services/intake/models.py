"""Intake's tables: cases (one per reported post), reports and deletion requests, the
signatures already used (replay protection), and the outbox/inbox."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime
from shared.jobs import PeriodicJobMixin
from shared.outbox import InboxMixin, OutboxMixin
from shared.parking import ParkedEventMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class ParkedEvent(ParkedEventMixin, Base):
    """Events this service's consumers parked or hold pending (shared/parking.py)."""


class PeriodicJob(PeriodicJobMixin, Base):
    """When each periodic job may next run, shared by the worker replicas (shared/jobs.py)."""


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    post_id: Mapped[str] = mapped_column(sa.String(200), unique=True, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)


class Report(Base):
    """A report (通報) or a deletion request (削除申出). ``received_at`` never changes (§22)."""

    __tablename__ = "reports"
    __table_args__ = (
        sa.UniqueConstraint("client_id", "idempotency_key", name="uq_reports_idempotency"),
        sa.Index("ix_reports_case_requester", "case_id", "reporter_id"),
        sa.Index("ix_reports_receipt_number", "receipt_number", unique=True),
    )

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # 受付番号 shown to the requester (services/intake/receipts.py); null on rows from before it.
    receipt_number: Mapped[str | None] = mapped_column(sa.String(10))
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(32), nullable=False)          # as submitted
    treated_as: Mapped[str] = mapped_column(sa.String(32), nullable=False)    # after the §22 test
    treatment_note: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[str] = mapped_column(sa.String(16), nullable=False)        # http | kafka | form
    client_id: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(200))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    request_type: Mapped[str] = mapped_column(sa.String(32), nullable=False, default="ordinary")
    reporter_id: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    reporter: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    post: Mapped[dict] = mapped_column(sa.JSON, nullable=False)               # evidence as reported
    evidence_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    reason_category: Mapped[str | None] = mapped_column(sa.String(64))
    right_infringed: Mapped[str | None] = mapped_column(sa.String(64))
    is_repeat: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)


class UsedSignature(Base):
    """Signatures accepted within the tolerance window; a second use is a replay."""

    __tablename__ = "used_signatures"

    signature: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
