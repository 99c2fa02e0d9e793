"""Periodic jobs that run once per interval however many worker replicas run them.

Each job has a row in the service's ``periodic_jobs`` table with the earliest instant of its
next run. A replica runs the job only if its conditional UPDATE moved that instant forward:
the database lets exactly one of several concurrent UPDATEs of the row match (PostgreSQL
re-reads the row after the winner commits; SQLite has one writer at a time), so the others
skip this interval. Replicas check four times per interval, so the job runs at least once every
1.25 intervals while any replica is alive.
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Database, UTCDateTime, utcnow
from shared.parking import insert_race_safe

log = logging.getLogger(__name__)


class PeriodicJobMixin:
    __tablename__ = "periodic_jobs"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    next_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    last_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_owner: Mapped[str | None] = mapped_column(sa.String(200))


def claim_run(db: Database, model, name: str, every: dt.timedelta, owner: str,
              now: dt.datetime | None = None) -> bool:
    """True if this replica is the one to run ``name`` now (and the next run is pushed one
    interval ahead); False if another replica ran it within the interval."""
    now = now or utcnow()
    with db.unit_of_work() as uow:
        if uow.session.get(model, name) is None:
            insert_race_safe(uow.session, model(name=name, next_run_at=now))  # or another replica did
        result = uow.session.execute(
            sa.update(model).where(model.name == name, model.next_run_at <= now)
            .values(next_run_at=now + every, last_started_at=now, last_owner=owner[:200])
            .execution_options(synchronize_session=False))
        uow.commit()
        return result.rowcount == 1
