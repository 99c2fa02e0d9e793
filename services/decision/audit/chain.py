"""The tamper-evident audit log.

Each entry's hash is an HMAC-SHA256 over the previous hash and the entry, keyed with
MODQ_AUDIT_KEY, which the database never holds: whoever can write the table cannot compute a
valid hash for an edited entry. Deleting entries from the end leaves a valid chain, so the head
``(seq, hash)`` is published outside the database (the ``audit_heads`` topic, and a header on the
decision log export); ``verify_chain`` given a published head names a truncation or a rewrite.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import Database, utcnow
from shared.events import AUDIT_HEAD, make_event, stable_id
from shared.outbox import stage
from shared.settings import audit_key
from services.decision.audit import domain
from services.decision.audit.models import AuditEvent
from services.decision.models import Outbox

KEYED = "hmac-sha256"
UNKEYED = "sha256"  # entries written before the log was keyed
SOURCE = "/modq/decision"


def _key() -> bytes:
    return audit_key().encode("utf-8")


def append_audit(session: Session, *, case_id: str | None, event_type: str, actor: str, payload: dict,
                 at: dt.datetime | None = None) -> AuditEvent:
    """Append one keyed, chained entry. Appends are serialised so the chain stays linear: the
    first append of a transaction takes the chain's lock (held until the transaction ends) and
    reads the head; later appends of that transaction chain onto the entry before them without
    asking again, and their rows are inserted together at the next flush (a batch of reports
    during a storm appends hundreds)."""
    at = at or utcnow()
    last = _head_held(session)
    if last is None:
        # No autoflush: the chain's lock is taken before this transaction's pending case updates
        # reach the database, so a web request and a batch of events (which appends first) take
        # the chain lock and the case rows in the same order instead of deadlocking.
        with session.no_autoflush:
            lock_chain(session)
            last = session.execute(sa.select(AuditEvent.seq, AuditEvent.hash)
                                   .order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq = (last.seq + 1) if last else 1
    prev = last.hash if last else domain.GENESIS
    body = domain.canonical(payload)
    entry = AuditEvent(seq=seq, case_id=case_id, event_type=event_type, actor=actor, at=at, payload=body,
                       prev_hash=prev, scheme=KEYED,
                       hash=domain.chain_hash(prev, seq=seq, case_id=case_id, event_type=event_type, actor=actor,
                                              at=at, payload=body, key=_key()))
    session.add(entry)
    session.info[_HEAD] = (session.get_transaction(), entry)
    return entry


def lock_chain(session: Session) -> None:
    """Take the chain's lock for the rest of the transaction (again is a no-op). A transaction
    that changes case rows and then appends takes it first, so that it locks in the same order
    as the batch projection, which appends before it touches cases."""
    if session.get_bind().dialect.name == "postgresql":
        with session.no_autoflush:
            session.execute(sa.text("SELECT pg_advisory_xact_lock(7123001)"))


_HEAD = "audit_chain_head"


def _head_held(session: Session) -> AuditEvent | None:
    """The entry this transaction appended last, while the chain's lock is surely still held:
    same transaction, and the entry still in the session (a rolled-back savepoint expunges what
    it added, and releases a lock taken inside it)."""
    held = session.info.get(_HEAD)
    if held is None:
        return None
    transaction, entry = held
    if transaction is not session.get_transaction() or entry not in session:
        session.info.pop(_HEAD, None)
        return None
    return entry


def _expected_hash(entry: AuditEvent, prev_hash: str, key: bytes) -> str:
    return domain.chain_hash(prev_hash, seq=entry.seq, case_id=entry.case_id, event_type=entry.event_type,
                             actor=entry.actor, at=entry.at, payload=entry.payload,
                             key=key if entry.scheme == KEYED else None)


def _link_problem(entry: AuditEvent, prev_seq: int, prev_hash: str, keyed_before: bool, key: bytes) -> str | None:
    if entry.seq != prev_seq + 1:
        return f"entries missing between seq {prev_seq} and {entry.seq}"
    if entry.prev_hash != prev_hash:
        return "prev_hash does not match the previous entry"
    if entry.scheme not in (KEYED, UNKEYED) or (entry.scheme == UNKEYED and keyed_before):
        return "entry is not keyed although earlier entries are (rewritten without the key)"
    if entry.hash != _expected_hash(entry, prev_hash, key):
        return "entry content does not match its keyed hash"
    return None


def _broken(checked: int, seq: int, problem: str, head: dict | None = None) -> dict:
    return {"intact": False, "checked": checked, "first_broken_seq": seq, "problem": problem, "head": head}


def verify_chain(session: Session, start: dt.datetime | None = None, end: dt.datetime | None = None,
                 published_head: tuple[int, str] | None = None) -> dict:
    """Recompute the chain over entries in [start, end] and report the first broken link; with
    ``published_head`` also whether the log still reaches that head unchanged."""
    key = _key()
    query = sa.select(AuditEvent).order_by(AuditEvent.seq)
    if start:
        query = query.where(AuditEvent.at >= start)
    if end:
        query = query.where(AuditEvent.at <= end)
    prev_hash = prev_seq = None
    keyed_before, checked = False, 0
    for entry in session.scalars(query).yield_per(1000):
        if prev_hash is None:
            before = session.execute(sa.select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq < entry.seq)
                                     .order_by(AuditEvent.seq.desc()).limit(1)).first()
            prev_seq, prev_hash = (before.seq, before.hash) if before else (0, domain.GENESIS)
            keyed_before = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
                AuditEvent.seq < entry.seq, AuditEvent.scheme == KEYED)) > 0
        problem = _link_problem(entry, prev_seq, prev_hash, keyed_before, key)
        if problem:
            return _broken(checked, entry.seq, problem)
        keyed_before = keyed_before or entry.scheme == KEYED
        prev_hash, prev_seq = entry.hash, entry.seq
        checked += 1
    head = current_head(session)
    if published_head is not None:
        problem = head_problem(session, published_head, head)
        if problem:
            return _broken(checked, *problem, head=head)
    return {"intact": True, "checked": checked, "first_broken_seq": None, "problem": None, "head": head}


def head_problem(session: Session, published: tuple[int, str], head: dict | None) -> tuple[int, str] | None:
    """(seq, problem) when the log no longer reaches a head that was published, else None."""
    seq, digest = published
    last = head["seq"] if head else 0
    if last < seq:
        return last + 1, f"log truncated: it ends at seq {last}, but seq {seq} was published"
    entry = session.get(AuditEvent, seq)
    if entry is None or entry.hash != digest:
        return seq, f"seq {seq} differs from the published head"
    return None


def current_head(session: Session) -> dict | None:
    last = session.execute(sa.select(AuditEvent.seq, AuditEvent.hash, AuditEvent.at)
                           .order_by(AuditEvent.seq.desc()).limit(1)).first()
    if last is None:
        return None
    return {"seq": last.seq, "hash": last.hash, "at": last.at.astimezone(dt.timezone.utc).isoformat()}


def publish_head(db: Database) -> dict | None:
    """Stage the current head on the audit_heads topic (once per head: the event id is the
    head's), so that a copy outside the database says how far the log reached."""
    with db.unit_of_work() as uow:
        head = current_head(uow.session)
        if head is None:
            return None
        data = {**head, "scheme": KEYED, "published_at": utcnow().isoformat()}
        event = make_event(AUDIT_HEAD, source=SOURCE, subject="audit", data=data,
                           id=stable_id("audit-head", head["seq"], head["hash"]))
        stage(uow.session, Outbox, event, AUDIT_HEAD.topic, key="audit")
        uow.commit()
    return head
