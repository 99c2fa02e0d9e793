"""Cases: a projection of intake's reports and the classifier's scores, one per reported
post, with each report's own §25 clock; and legal holds on a case's evidence."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime
from services.decision.models import Base
from services.decision.users.models import User  # noqa: F401  (claimed_by's table)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # The queue reads "status = open ORDER BY priority DESC, created_at ASC LIMIT n": the index
        # carries the same mixed order so the database walks it instead of sorting every open case.
        sa.Index("ix_cases_queue", "status", sa.text("priority DESC"), "created_at"),
        sa.Index("ix_cases_deadline", "status", "next_deadline_at"),
        # queue_counts() reads only these columns of the open cases: on PostgreSQL an index-only
        # scan of this narrow index instead of a scan of the wide rows (post JSON and all).
        sa.Index("ix_cases_open_counts", "status",
                 postgresql_include=["request_count", "next_deadline_at", "notice_blocked", "stage",
                                     "ready_to_decide_at"]),
        sa.Index("ix_cases_author", "author_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    post_id: Mapped[str] = mapped_column(sa.String(200), unique=True, nullable=False)
    author_id: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    post: Mapped[dict] = mapped_column(sa.JSON, nullable=False)  # the SNS's copy once one arrived
    evidence_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    # "sns" (from a signed SNS report) or "requester" (the public form's URL only, until then).
    post_evidence: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="sns", server_default="sns")
    # When retention removed personal data and the preserved post's content (its hash stays);
    # never while a legal hold (LegalHold) is active (services/decision/cases/retention.py).
    requester_data_removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    post_removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="open")
    stage: Mapped[str | None] = mapped_column(sa.String(32))  # poster_inquiry | refer_specialist | delay_other
    priority: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.0)
    score: Mapped[float | None] = mapped_column(sa.Float)
    top_category: Mapped[str | None] = mapped_column(sa.String(32))
    categories: Mapped[dict | None] = mapped_column(sa.JSON)
    model_version: Mapped[str | None] = mapped_column(sa.String(200))
    reporter_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    report_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    request_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    # earliest §25 deadline among requests still owed a final or interim notice
    next_deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reason_categories: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    claimed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    claim_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    notice_blocked: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    # §3(2)(ii): end of the poster's reply window once the inquiry was delivered; cleared when the
    # poster objects in time. Past this instant the case is 判断可能 (ready to decide).
    ready_to_decide_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}

class CaseReport(Base):
    """A report or deletion request on a case, each with its own clock (§25)."""

    __tablename__ = "case_reports"
    __table_args__ = (sa.Index("ix_case_reports_case_reporter", "case_id", "reporter_id"),)

    report_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # intake's short 受付番号, what a requester quotes on the phone (null on older reports)
    receipt_number: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    treated_as: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    reporter_id: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    reporter: Mapped[dict] = mapped_column(sa.JSON, nullable=False)  # contact: shown only to roles that need it
    reason: Mapped[str | None] = mapped_column(sa.Text)
    reason_category: Mapped[str | None] = mapped_column(sa.String(64))
    right_infringed: Mapped[str | None] = mapped_column(sa.String(64))
    request_type: Mapped[str] = mapped_column(sa.String(32), nullable=False, default="ordinary")
    is_repeat: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[float | None] = mapped_column(sa.Float)
    categories: Mapped[dict | None] = mapped_column(sa.JSON)
    model_version: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="open")  # open | extended | resolved
    resolved_by: Mapped[str | None] = mapped_column(sa.String(64))  # decision id

class LegalHold(Base):
    """A hold on a case's evidence (§15 提供命令, §16 消去禁止命令, litigation): while one is
    active, retention removes nothing of the case (services/decision/cases/retention.py)."""

    __tablename__ = "legal_holds"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"), nullable=False, index=True)
    basis: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    reference: Mapped[str | None] = mapped_column(sa.String(500))
    placed_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    lifted_by: Mapped[str | None] = mapped_column(sa.String(200))
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lift_reason: Mapped[str | None] = mapped_column(sa.Text)
