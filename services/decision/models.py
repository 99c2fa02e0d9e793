"""Decision service tables.

Cases are a projection of intake's events (one per reported post); decisions, criteria and
the audit log are this service's own records. The audit log is append-only and hash-chained.
"""
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


# "sns" is a service account for the SNS platform itself: it may only hand in posters'
# replies to inquiries (POST /v1/cases/<id>/poster-replies), never read the queue.
ROLES = ("moderator", "specialist", "supervisor", "auditor", "admin", "sns")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(200), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    role: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    pseudonym: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)  # shown in logs
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    locale: Mapped[str] = mapped_column(sa.String(8), nullable=False, default="ja")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False)
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    label: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A signed-in web view session, so that signing out ends it on the server too (a cookie
    alone would stay valid until it expires). Only the SHA-256 of the session's token is kept."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


CASE_STATUSES = ("open", "decided")


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
    # never while a legal hold (LegalHold) is active (services/decision/retention.py).
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
    deadline_alert: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
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


class CriteriaVersion(Base):
    """A version of the published deletion criteria (送信防止措置の実施に関する基準, §26)."""

    __tablename__ = "criteria_versions"

    version: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="draft")  # draft | published
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    # Development data only: published_at was set in the past so the criteria apply at once;
    # the public page says so. Production criteria are dated when the operator publishes them.
    backdated: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False, server_default=sa.false())


class Clause(Base):
    __tablename__ = "criteria_clauses"

    version: Mapped[str] = mapped_column(sa.ForeignKey("criteria_versions.version"), primary_key=True)
    clause_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    category: Mapped[str | None] = mapped_column(sa.String(32))
    routes: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)  # request | report | own_detection
    measures: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    covers_suspension: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    examples: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)


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


class SpecialistAppointment(Base):
    """The 侵害情報調査専門員 roster (§24): who was appointed, by whom, and until when."""

    __tablename__ = "specialist_appointments"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    appointed_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    appointed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    ended_by: Mapped[str | None] = mapped_column(sa.String(200))
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CriteriaAmendmentDue(Base):
    """A measure taken for an urgent, unforeseen type of content (§26 ただし書): the criteria
    must be amended promptly (§26(3)); open until a version is published after it."""

    __tablename__ = "criteria_amendments_due"

    decision_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    summary: Mapped[str] = mapped_column(sa.Text, nullable=False)
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    resolved_by_version: Mapped[str | None] = mapped_column(sa.String(32))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LegalHold(Base):
    """A hold on a case's evidence (§15 提供命令, §16 消去禁止命令, litigation): while one is
    active, retention removes nothing of the case (services/decision/retention.py)."""

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
