"""Transactional outbox and idempotent inbox.

A service writes its outgoing events into its own ``outbox`` table in the same transaction
as the state change; a relay publishes them (acks=all) and marks them sent. Publishing
twice is harmless: consumers record processed event ids in their ``inbox`` table in the
same transaction as their effects, so a redelivered event has no second effect.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.db import Database, UTCDateTime, utcnow
from shared.events import Envelope

log = logging.getLogger(__name__)


class OutboxMixin:
    __tablename__ = "outbox"

    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    topic: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    key: Mapped[str | None] = mapped_column(sa.String(200))
    event_type: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    payload: Mapped[bytes] = mapped_column(sa.LargeBinary, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)


class InboxMixin:
    __tablename__ = "inbox"

    consumer: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    processed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


def stage(session: Session, outbox_model, envelope: Envelope, topic: str, key: str | None = None) -> None:
    """Put an event in the outbox; it leaves when the surrounding transaction commits.

    Staging the same event id twice is a no-op, so a handler that runs again stages nothing new.
    """
    stage_many(session, outbox_model, [(envelope, topic, key)])


def stage_many(session: Session, outbox_model, staged: list[tuple[Envelope, str, str | None]]) -> int:
    """``stage`` for a batch of ``(event, topic, key)``: one look-up of the ids already staged,
    the new rows inserted together at the next flush. Returns how many were staged."""
    ids = {envelope.id for envelope, _, _ in staged}
    done = set(session.scalars(sa.select(outbox_model.event_id).where(outbox_model.event_id.in_(ids)))) if ids else set()
    now, added = utcnow(), 0
    for envelope, topic, key in staged:
        if envelope.id in done:
            continue
        done.add(envelope.id)
        session.add(outbox_model(
            event_id=envelope.id, topic=topic, key=key or envelope.subject, event_type=envelope.type,
            subject=envelope.subject, payload=envelope.to_json(), created_at=now,
        ))
        added += 1
    return added


def claim_inbox(session: Session, inbox_model, consumer: str, envelope: Envelope) -> bool:
    """Record that ``consumer`` handles this event. False if it already did (skip it)."""
    seen = session.get(inbox_model, (consumer, envelope.id))
    if seen is not None:
        return False
    session.add(inbox_model(consumer=consumer, event_id=envelope.id, event_type=envelope.type,
                            processed_at=utcnow()))
    session.flush()
    return True


def claim_inbox_many(session: Session, inbox_model, claims: list[tuple[str, Envelope]]) -> list[Envelope]:
    """``claim_inbox`` for a batch of ``(consumer, event)`` pairs: one look-up per consumer and
    the rows inserted together at the next flush. Returns the events not handled before, in
    order, each once (a batch may hold the same event twice)."""
    by_consumer: dict[str, set[str]] = {}
    for consumer, env in claims:
        by_consumer.setdefault(consumer, set()).add(env.id)
    seen = {(consumer, event_id) for consumer, ids in by_consumer.items() for event_id in session.scalars(
        sa.select(inbox_model.event_id).where(inbox_model.consumer == consumer, inbox_model.event_id.in_(ids)))}
    fresh = []
    for consumer, env in claims:
        if (consumer, env.id) in seen:
            continue
        seen.add((consumer, env.id))
        session.add(inbox_model(consumer=consumer, event_id=env.id, event_type=env.type, processed_at=utcnow()))
        fresh.append(env)
    return fresh


def replay(db: Database, outbox_model, since: dt.datetime) -> int:
    """Mark every event created since ``since`` as unsent; the relay publishes them again
    with their original ids (after a broker lost its data, for instance)."""
    with db.unit_of_work() as uow:
        result = uow.session.execute(
            sa.update(outbox_model).where(outbox_model.created_at >= since).values(published_at=None)
        )
        uow.commit()
        return result.rowcount


def backlog(db: Database, outbox_model) -> int:
    with db.sessions() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(outbox_model)
                              .where(outbox_model.published_at.is_(None))) or 0


# Held for one relay pass (a transaction) on PostgreSQL; the value only has to be unique
# among the advisory locks taken in one service's database.
RELAY_LOCK_KEY = 0x6D6F6471  # "modq"


class OutboxRelay:
    """Publishes unsent outbox rows in order and marks them sent in the same transaction.

    Every worker replica runs a relay. On PostgreSQL one pass at a time publishes (a
    transaction-scoped advisory lock; the others skip their pass), so rows leave in ``seq``
    order and none is published by two relays; the rows are also claimed FOR UPDATE SKIP
    LOCKED. A relay that dies between publishing and committing leaves its rows unsent, and
    the next pass publishes them again with the same ids: consumers' inboxes drop the copy,
    so an event takes effect once. SQLite runs one worker per database."""

    def __init__(self, db: Database, outbox_model, producer, batch_size: int = 500,
                 poll_seconds: float = 0.1):
        self.db = db
        self.model = outbox_model
        self.producer = producer
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self.wakeup = threading.Event()

    def publish_pending(self) -> int:
        with self.db.unit_of_work() as uow:
            if not self.db.is_sqlite and not uow.session.scalar(
                    sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RELAY_LOCK_KEY}):
                return 0  # another replica's relay is publishing; the next pass looks again
            query = (sa.select(self.model).where(self.model.published_at.is_(None))
                     .order_by(self.model.seq).limit(self.batch_size))
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = uow.session.scalars(query).all()
            if not rows:
                return 0
            futures = [self.producer.send(r.topic, key=r.key, value=r.payload) for r in rows]
            self.producer.flush(timeout=30)
            sent_seqs, failed_seqs = [], []
            for row, future in zip(rows, futures):
                try:
                    future.get(timeout=30)
                    sent_seqs.append(row.seq)
                except Exception as exc:  # keep it unsent; the next pass retries
                    log.warning("outbox publish failed for %s: %s", row.event_id, exc)
                    failed_seqs.append(row.seq)
            # One UPDATE per outcome rather than one per row: the relay keeps up with bursts.
            self._mark(uow.session, sent_seqs, published_at=utcnow())
            self._mark(uow.session, failed_seqs)
            uow.commit()
            return len(sent_seqs)

    def _mark(self, session: Session, seqs: list[int], **values) -> None:
        if seqs:
            session.execute(sa.update(self.model).where(self.model.seq.in_(seqs))
                            .values(attempts=self.model.attempts + 1, **values)
                            .execution_options(synchronize_session=False))

    def run_forever(self) -> None:
        backoff = self.poll_seconds
        while not self.stopping.is_set():
            try:
                sent = self.publish_pending()
                backoff = self.poll_seconds
            except Exception as exc:
                log.warning("outbox relay error: %s", exc)
                sent = 0
                backoff = min(5.0, max(backoff * 2, 0.5))
            if sent < self.batch_size:
                self.wakeup.wait(backoff)
                self.wakeup.clear()

    def stop(self) -> None:
        self.stopping.set()
        self.wakeup.set()
