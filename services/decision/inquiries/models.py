"""Opinion inquiries to the poster (照会, §3(2)(ii)) and the posters' replies."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime
from services.decision.models import Base
from services.decision.decisions.models import Decision  # noqa: F401  (decision_id's table)


class PosterInquiry(Base):
    """An opinion inquiry to the poster (照会, §3(2)(ii)): one per ``poster_inquiry`` decision."""

    __tablename__ = "poster_inquiries"

    decision_id: Mapped[str] = mapped_column(sa.ForeignKey("decisions.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"), nullable=False, index=True)
    notice_id: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)  # the notifier's INQ id
    request_type: Mapped[str] = mapped_column(sa.String(32), nullable=False, default="ordinary")
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    window_ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="waiting")  # waiting | objected

class PosterReply(Base):
    """The poster's answer to an inquiry, as the SNS handed it in. Never updated."""

    __tablename__ = "poster_replies"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"), nullable=False, index=True)
    decision_id: Mapped[str] = mapped_column(sa.ForeignKey("poster_inquiries.decision_id"), nullable=False)
    poster_id: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    objection: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    text: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    delivered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    late: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
