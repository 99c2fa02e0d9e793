"""Decisions: measures and the non-final steps (inquiry, referral, extension) on a case."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime
from services.decision.models import Base
from services.decision.cases.models import Case  # noqa: F401  (case_id's table)
from services.decision.users.models import User  # noqa: F401  (decided_by's table)


class Decision(Base):
    __tablename__ = "decisions"
    __table_args__ = (sa.Index("ix_decisions_decided_at", "decided_at"),)

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"), nullable=False, index=True)
    action: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    final: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    measure: Mapped[str | None] = mapped_column(sa.String(32))
    clause_version: Mapped[str | None] = mapped_column(sa.String(32))
    clause_id: Mapped[str | None] = mapped_column(sa.String(32))
    clause_snapshot: Mapped[dict | None] = mapped_column(sa.JSON)   # the wording as published then
    exception_code: Mapped[str | None] = mapped_column(sa.String(64))
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)   # the moderator's own note (the record)
    # What the requesters are told (N2's reason, N3's item iii reason); never the note above.
    requester_reason: Mapped[str | None] = mapped_column(sa.Text)
    facts: Mapped[str | None] = mapped_column(sa.Text)
    scope: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    suspension_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    suspension_permanent: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False,
                                                      server_default=sa.false())
    delay_item: Mapped[str | None] = mapped_column(sa.String(8))
    decided_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False)
    decided_by_role: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    specialist_reviewed: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    ai_assisted: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    model_version: Mapped[str | None] = mapped_column(sa.String(200))
    score: Mapped[float | None] = mapped_column(sa.Float)
    reverses: Mapped[str | None] = mapped_column(sa.String(64))
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
