"""Tables every concept of the decision service shares: the declarative base, the outbox and
inbox (events leave and arrive exactly once), parked events and the periodic jobs' schedule.
Each concept keeps its own tables in its folder (cases/, decisions/, inquiries/, criteria/,
users/, audit/); services/decision/migrations/env.py loads them all for Alembic."""
from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

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
