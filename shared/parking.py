"""Parked and pending events: what a consumer could not apply, kept in its service's database.

An event whose handler keeps failing is *parked*: after a bounded number of attempts the
consumer writes it here with the error and the attempts, sends it to the dead-letter topic and
moves on, so one bad event never holds up its partition. An event that waits for another (a
score that overtook its report) is held *pending* in the same table, applied when its partner
arrives and parked once it has waited longer than the configured time.

States: ``pending`` (waiting for ``waiting_for``), ``parked`` (needs a person), ``applied`` (a
pending event that found its partner), ``replayed`` (published again from the command line),
``discarded`` (dropped by a person, with the reason).
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from prometheus_client import Counter, Gauge
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from shared.db import Database, UTCDateTime, utcnow
from shared.events import EVENT_TYPES, Envelope, parse_event

log = logging.getLogger(__name__)

STATES = ("pending", "parked", "applied", "replayed", "discarded")
MAX_ERROR_CHARS = 4000

EVENTS_PARKED = Counter("modq_events_parked_total", "Events parked after failing or waiting too long",
                        ["group", "reason"])
EVENTS_HELD = Counter("modq_events_held_pending_total", "Events held until the event they wait for arrives",
                      ["group"])
PARKED_NOW = Gauge("modq_parked_events", "Events in the parked table, by state", ["state"])
OLDEST_PENDING = Gauge("modq_pending_oldest_seconds", "Age of the oldest pending event (0 when none)")


class ParkedEventMixin:
    __tablename__ = "parked_events"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    event_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    event_type: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    topic: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    partition: Mapped[int | None] = mapped_column(sa.Integer)
    offset: Mapped[int | None] = mapped_column(sa.BigInteger)
    key: Mapped[str | None] = mapped_column(sa.String(200))
    payload: Mapped[bytes] = mapped_column(sa.LargeBinary, nullable=False)
    state: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    waiting_for: Mapped[str | None] = mapped_column(sa.String(200))
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    resolution: Mapped[str | None] = mapped_column(sa.Text)

    @declared_attr.directive
    def __table_args__(cls):
        return (sa.UniqueConstraint("consumer", "event_id", name="uq_parked_events_consumer_event"),
                sa.Index("ix_parked_events_state", "state", "first_seen_at"),
                sa.Index("ix_parked_events_waiting", "waiting_for"))


@dataclass(frozen=True)
class Failure:
    """Where a failing event came from and why it failed."""

    group: str
    topic: str
    partition: int | None
    offset: int | None
    key: str | None
    error: str
    attempts: int


def _row(session: Session, model, consumer: str, event_id: str):
    return session.scalar(sa.select(model).where(model.consumer == consumer, model.event_id == event_id))


def park(db: Database, model, env: Envelope, failure: Failure) -> int:
    """Record a failed event as parked in its own transaction; returns the row id. A replayed
    event that fails again goes back to the same row, its attempts added up."""
    now = utcnow()
    with db.unit_of_work() as uow:
        row = _row(uow.session, model, failure.group, env.id)
        if row is None:
            row = model(consumer=failure.group, event_id=env.id, event_type=env.type, topic=failure.topic,
                        payload=env.to_json(), first_seen_at=now, attempts=0)
            uow.session.add(row)
        row.partition, row.offset, row.key = failure.partition, failure.offset, failure.key
        row.state, row.waiting_for, row.updated_at = "parked", None, now
        row.error = failure.error[:MAX_ERROR_CHARS]
        row.attempts = (row.attempts or 0) + failure.attempts
        uow.commit()
        EVENTS_PARKED.labels(failure.group, "failed").inc()
        return row.id


def hold_pending(session: Session, model, consumer: str, held: list[tuple[Envelope, str]]) -> int:
    """Hold events until what each waits for arrives (``(event, waiting_for)`` pairs), in the
    caller's transaction; returns how many are newly held. Holding an event again (a
    redelivery) changes nothing. One look-up and one batched insert for the lot: during a storm
    most scores of a lagging case are held."""
    if not held:
        return 0
    now = utcnow()
    already = set(session.scalars(sa.select(model.event_id).where(
        model.consumer == consumer, model.event_id.in_([env.id for env, _ in held]))))
    fresh = {}
    for env, waiting_for in held:
        if env.id in already or env.id in fresh:
            continue
        event_type = EVENT_TYPES.get(env.type)
        fresh[env.id] = model(consumer=consumer, event_id=env.id, event_type=env.type,
                              topic=event_type.topic if event_type else "", key=env.subject, payload=env.to_json(),
                              state="pending", waiting_for=waiting_for, attempts=1, first_seen_at=now,
                              updated_at=now)
    session.add_all(fresh.values())
    if fresh:
        EVENTS_HELD.labels(consumer).inc(len(fresh))
    return len(fresh)


def take_waiting(session: Session, model, consumer: str, waiting_for: str | list[str]) -> list[Envelope]:
    """The pending events waiting for ``waiting_for`` (one key or several, looked up together),
    marked applied in the caller's transaction (the caller applies them in that same transaction)."""
    keys = [waiting_for] if isinstance(waiting_for, str) else list(waiting_for)
    if not keys:
        return []
    rows = session.scalars(sa.select(model).where(model.consumer == consumer, model.state == "pending",
                                                  model.waiting_for.in_(keys))
                           .order_by(model.id)).all()
    now = utcnow()
    for row in rows:
        row.state, row.updated_at, row.resolution = "applied", now, f"applied when {row.waiting_for} arrived"
    return [parse_event(row.payload) for row in rows]


def resolve_pending(db: Database, model, consumer: str, apply: Callable[[Session, Envelope], bool],
                    max_wait: dt.timedelta, on_parked: Callable[[object], None] | None = None,
                    now: dt.datetime | None = None, limit: int = 500, ready=None) -> dict:
    """Try the pending events again (their partner may have arrived in a transaction that
    could not see them), and park those that waited longer than ``max_wait``.

    ``apply`` returns False while the partner is still missing. ``ready``, a SQL condition on
    the row, narrows the retry to rows whose partner is there (so a long backlog of waiting
    events is not parsed again on every pass). ``on_parked`` gets each row parked here (to
    dead-letter it) after the commit."""
    now = now or utcnow()
    applied, parked = 0, []
    pending = sa.select(model).where(model.consumer == consumer, model.state == "pending").order_by(model.id)
    with db.unit_of_work() as uow:
        for row in uow.session.scalars((pending if ready is None else pending.where(ready)).limit(limit)).all():
            if apply(uow.session, parse_event(row.payload)):
                row.state, row.updated_at, row.resolution = "applied", now, "applied on a later pass"
                applied += 1
        expired = pending.where(model.first_seen_at <= now - max_wait)
        for row in uow.session.scalars(expired.limit(limit)).all():
            waited = int((now - row.first_seen_at).total_seconds())
            row.state, row.updated_at = "parked", now
            row.error = f"waited {waited} s for {row.waiting_for}, which never arrived"
            parked.append(row)
        uow.commit()
    for row in parked:
        EVENTS_PARKED.labels(consumer, "waited").inc()
        log.warning("pending %s %s parked: %s", row.event_type, row.event_id, row.error)
        if on_parked:
            on_parked(row)
    return {"applied": applied, "parked": len(parked)}


def observe(db: Database, model, now: dt.datetime | None = None) -> dict[str, int]:
    """Counts by state for the gauges (and the age of the oldest pending event)."""
    now = now or utcnow()
    with db.sessions() as session:
        counts = dict(session.execute(sa.select(model.state, sa.func.count()).group_by(model.state)).all())
        oldest = session.scalar(sa.select(sa.func.min(model.first_seen_at)).where(model.state == "pending"))
    for state in STATES:
        PARKED_NOW.labels(state).set(counts.get(state, 0))
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.timezone.utc)
    OLDEST_PENDING.set((now - oldest).total_seconds() if oldest else 0)
    return counts


def dead_letter_row(producer, row) -> None:
    """Send a row parked outside the consumer loop (a pending event that waited too long) to
    the dead-letter topic with its reason, in the consumer's dead-letter format."""
    import base64
    import json

    from shared.settings import topic

    body = {"reason": row.error, "group": row.consumer, "topic": row.topic, "partition": -1 if row.partition is None else row.partition,
            "offset": -1 if row.offset is None else row.offset, "at": utcnow().isoformat(),
            "event_id": row.event_id, "event_type": row.event_type, "attempts": row.attempts, "parked_id": row.id,
            "value_base64": base64.b64encode(row.payload).decode("ascii")[:200_000]}
    producer.send(topic("deadletter"), key=row.topic,
                  value=json.dumps(body, ensure_ascii=False).encode("utf-8")).get(timeout=30)


# --- what a person does with them (the ``parked`` command) ----------------------------------

def listing(db: Database, model, state: str | None = "parked", limit: int = 100) -> list:
    with db.sessions() as session:
        query = sa.select(model).order_by(model.id).limit(limit)
        if state:
            query = query.where(model.state == state)
        return list(session.scalars(query).all())


def get(db: Database, model, row_id: int):
    with db.sessions() as session:
        return session.get(model, row_id)


class NotParked(LookupError):
    pass


def _resolve(db: Database, model, row_id: int, state: str, resolution: str, allowed=("parked",)):
    with db.unit_of_work() as uow:
        row = uow.session.get(model, row_id, with_for_update=not db.is_sqlite)
        if row is None or row.state not in allowed:
            raise NotParked(f"no {'/'.join(allowed)} event with id {row_id}")
        row.state, row.updated_at, row.resolution = state, utcnow(), resolution
        uow.commit()
        return row


def replay(db: Database, model, row_id: int, producer, actor: str) -> object:
    """Mark a parked event replayed, then publish it again on its topic (same id, so consumers
    that did apply it skip it). If it fails again it comes back parked, its attempts added up.

    The row is marked first: a consumer may fail on the replayed event and park it again before
    the publish returns, and marking afterwards would hide that second failure as "replayed".
    If the publish itself fails, the row goes back to parked and the error is raised."""
    row = _resolve(db, model, row_id, "replayed", f"replayed by {actor} at {utcnow().isoformat()}")
    try:
        producer.send(row.topic, key=row.key, value=row.payload).get(timeout=30)
    except Exception as exc:
        _resolve(db, model, row_id, "parked", f"replay by {actor} failed to publish: {exc}"[:MAX_ERROR_CHARS],
                 allowed=("replayed",))
        raise
    return row


def discard(db: Database, model, row_id: int, actor: str, reason: str) -> object:
    return _resolve(db, model, row_id, "discarded", f"discarded by {actor}: {reason}",
                    allowed=("parked", "pending"))


def describe(row, with_event: bool = False) -> dict:
    body = {"id": row.id, "state": row.state, "consumer": row.consumer, "event_id": row.event_id,
            "event_type": row.event_type, "topic": row.topic, "partition": row.partition, "offset": row.offset,
            "key": row.key, "attempts": row.attempts, "waiting_for": row.waiting_for, "error": row.error,
            "first_seen_at": row.first_seen_at.isoformat(), "updated_at": row.updated_at.isoformat(),
            "resolution": row.resolution}
    if with_event:
        import json

        body["event"] = json.loads(row.payload)
    return body


def insert_race_safe(session: Session, row) -> bool:
    """Add a row that another replica may add at the same moment; False if it lost the race."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return True
    except IntegrityError:
        return False
