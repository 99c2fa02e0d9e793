"""Notifier tables: the deletion requests whose §25 clock it watches, every notice issued
(with its delivery state), exceptions recorded instead of a notice, outbox and inbox."""
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


class TrackedRequest(Base):
    """A §22 deletion request and its §25 clock."""

    __tablename__ = "tracked_requests"
    __table_args__ = (sa.Index("ix_tracked_open_deadline", "final_notice_at", "deadline_at"),)

    report_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(64), nullable=False, index=True)
    requester: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    # Requester and post identify a repeat request (§25(1) proviso) and its earlier request.
    requester_id: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    request_type: Mapped[str] = mapped_column(sa.String(32), nullable=False, default="ordinary")
    is_repeat: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    post_id: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    # The right claimed: a repeat is the same requester, post and right (同一の内容の申出).
    right_infringed: Mapped[str | None] = mapped_column(sa.String(64))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    deadline_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    interim_notice_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    final_notice_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    warned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    overdue_alerted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set when the §25(1) proviso applies (a repeat request): no final notice is owed.
    exception_id: Mapped[str | None] = mapped_column(sa.String(64))


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (sa.Index("ix_notices_type_issued", "notice_type", "issued_at"),
                      sa.Index("ix_notices_recipient_clause", "recipient_id", "clause_id", "issued_at"),
                      sa.Index("ix_notices_retry", "status", "next_attempt_at"))

    notice_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    notice_type: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    legal_basis: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    case_id: Mapped[str] = mapped_column(sa.String(64), nullable=False, index=True)
    request_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    decision_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    recipient_id: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    topic: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    body: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)  # sent | held | delivered | failed | unreachable
    held_reason: Mapped[str | None] = mapped_column(sa.Text)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    last_receipt: Mapped[str | None] = mapped_column(sa.Text)
    # What the §28 report counts notices by: the measure (N1/N4) and the §25(2) item (N3).
    measure: Mapped[str | None] = mapped_column(sa.String(32))
    clause_id: Mapped[str | None] = mapped_column(sa.String(64))
    delay_item: Mapped[str | None] = mapped_column(sa.String(8))
    # Delivery: failed receipts so far and when the next re-publication is due (backoff).
    failures: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0, server_default="0")
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # INQ only: the poster's reply deadline, computed from the delivery time (§3(2)(ii)).
    reply_deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class NoticeException(Base):
    """A notice not sent, with its legal reason (§25(1) proviso, §27 (i)–(iii), unreachable)."""

    __tablename__ = "notice_exceptions"
    __table_args__ = (sa.Index("ix_notice_exceptions_recorded", "recorded_at"),)

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    notice_type: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    reason_code: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    detail: Mapped[str | None] = mapped_column(sa.Text)
    case_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    decision_id: Mapped[str | None] = mapped_column(sa.String(64))
    related_notice_id: Mapped[str | None] = mapped_column(sa.String(64))
    legal_basis: Mapped[str | None] = mapped_column(sa.String(64))
    # What was done instead, e.g. "placeholder": the notice is shown where the post was.
    fallback: Mapped[str | None] = mapped_column(sa.String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
