"""Classifier's tables: one score per report (with the model version), outbox and inbox, the
events its consumer parked and the periodic jobs' schedule."""
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
    """Received reports the worker could not score (shared/parking.py)."""


class PeriodicJob(PeriodicJobMixin, Base):
    """When each periodic job may next run, shared by the worker replicas (shared/jobs.py)."""


class Score(Base):
    __tablename__ = "scores"

    report_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(64), nullable=False, index=True)
    score: Mapped[float] = mapped_column(sa.Float, nullable=False)
    categories: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    model_version: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    scored_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
