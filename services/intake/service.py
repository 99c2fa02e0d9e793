"""Intake's service layer: accept a report or deletion request exactly once, group it into
the post's case, preserve the evidence and stage the ``report.received`` event."""
from __future__ import annotations

import functools
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from shared.db import Database, UnitOfWork, utcnow
from shared.events import REPORT_RECEIVED, make_event, stable_id
from services.intake.domain import (FORM_SOURCE, Accepted, ReportRecord, SignatureReplayed, Submission,
                                    case_id_for_post, new_reports, plan_batch, result_of, same_request_key,
                                    settle_later, signature_expiry)
from services.intake.models import Case, Outbox, Report, UsedSignature

SOURCE = "/modq/intake"


# The statements of the hot path, built once with bound parameters: building them per request
# (with literal values) cost more CPU than executing them.
_reports, _cases, _signatures = Report.__table__, Case.__table__, UsedSignature.__table__
# One look-up answers both questions a batch asks of the stored reports: which idempotency
# keys are known (and their results), and who already asked for a post's deletion. On
# PostgreSQL each statement is a round trip, and on a busy machine a round trip is the
# scheduling delay of two processes, not the 50 µs of the network.
LOOK_UP = sa.select(
    _reports.c.id, _reports.c.receipt_number, _reports.c.case_id, _reports.c.received_at, _reports.c.kind, _reports.c.treated_as,
    _reports.c.treatment_note, _reports.c.deadline_at, _reports.c.is_repeat, _reports.c.evidence_sha256,
    _reports.c.client_id, _reports.c.idempotency_key, _reports.c.reporter_id, _reports.c.right_infringed,
).where(sa.or_(
    sa.and_(_reports.c.client_id.in_(sa.bindparam("client_ids", expanding=True)),
            _reports.c.idempotency_key.in_(sa.bindparam("keys", expanding=True))),
    sa.and_(_reports.c.treated_as == "deletion_request",
            _reports.c.case_id.in_(sa.bindparam("case_ids", expanding=True)),
            _reports.c.reporter_id.in_(sa.bindparam("reporter_ids", expanding=True))),
))
INSERT_REPORT = _reports.insert()
INSERT_EVENT = Outbox.__table__.insert()


class KnownCases:
    """Posts whose case row exists (cases are never deleted), so a batch need not insert them
    again. Bounded; forgotten entirely when full or when a write fails."""

    def __init__(self, limit: int = 100_000):
        self._posts: set[str] = set()
        self._limit = limit

    def missing(self, post_ids) -> list[str]:
        return [p for p in post_ids if p not in self._posts]

    def add(self, post_ids) -> None:
        if len(self._posts) > self._limit:
            self._posts.clear()
        self._posts.update(post_ids)

    def forget(self) -> None:
        self._posts.clear()


def store_submissions(unit_of_work: Callable[[], UnitOfWork], submissions: list[Submission],
                      known_cases: KnownCases | None = None) -> list[Accepted | SignatureReplayed]:
    """Store submissions and their outgoing events, all in one transaction: one WAL flush and
    a handful of statements for the lot instead of for each (the group commit in
    ``services.intake.batching`` hands concurrent requests to this together).

    The outcome of each is in the same position: Accepted (``created`` False for a repeated
    idempotency key) or SignatureReplayed. If another process stored one of the same keys in
    the meantime, the batch is written again one by one; each then finds its key.
    """
    known_cases = known_cases or KnownCases()
    for attempt in range(3):
        try:
            return _store_once(unit_of_work, submissions, known_cases)
        except IntegrityError:
            known_cases.forget()
            if len(submissions) > 1:
                return [store_submissions(unit_of_work, [s], known_cases)[0] for s in submissions]
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _store_once(unit_of_work, submissions: list[Submission], known_cases: KnownCases):
    with unit_of_work() as uow:
        session = uow.session
        stored, earlier_requests = look_up(submissions, lambda parameters: session.execute(LOOK_UP, parameters))
        outcomes, fresh, later = plan_batch(submissions, stored)
        fresh = _claim_signatures(session, submissions, fresh, outcomes)
        if fresh:
            new_cases = _open_cases(session, [submissions[i] for i in fresh], known_cases)
            records = new_reports([submissions[i] for i in fresh], earlier_requests)
            # Core INSERTs: the ORM's unit of work costs more than the statements on this hot path.
            session.execute(INSERT_REPORT, [record.row() for record in records])
            session.execute(INSERT_EVENT, [outbox_row(record) for record in records])
            for i, record in zip(fresh, records):
                outcomes[i] = Accepted(result_of(record), created=True)
        uow.commit()
    if fresh:
        known_cases.add(new_cases)
    settle_later(submissions, outcomes, later, lambda again: _store_once(unit_of_work, again, known_cases))
    return outcomes


def look_up(submissions, query: Callable[[dict], Iterable]) -> tuple[dict, set]:
    """The stored reports with the batch's idempotency keys, by (client, key); and the
    (case, requester) pairs of earlier deletion requests on the batch's posts.

    ``query`` runs the look-up (``LOOK_UP`` or its PostgreSQL form) with these parameters."""
    keyed = [(s.client_id, s.idempotency_key) for s in submissions if s.idempotency_key]
    asking = [(case_id_for_post(s.payload["post"]["id"]), s.payload["reporter"]["id"])
              for s in submissions if s.payload["kind"] == "deletion_request"]
    if not keyed and not asking:
        return {}, set()
    rows = query({"client_ids": sorted({c for c, _ in keyed}), "keys": sorted({k for _, k in keyed}),
                  "case_ids": sorted({c for c, _ in asking}), "reporter_ids": sorted({r for _, r in asking})})
    stored, earlier = {}, set()
    for row in rows:
        if row.idempotency_key is not None:
            stored[(row.client_id, row.idempotency_key)] = row
        if row.treated_as == "deletion_request":
            earlier.add((row.case_id, row.reporter_id, same_request_key(row.right_infringed)))
    return stored, earlier


@functools.cache
def _insert_ignoring_conflicts(dialect: str, table: sa.Table, returning: sa.Column | None = None):
    """``INSERT … ON CONFLICT DO NOTHING``, built once per database kind and executed with a
    list of rows (one statement for the batch, compiled once)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the two supported databases
        raise RuntimeError(f"unsupported database {dialect}")
    statement = insert(table).on_conflict_do_nothing()
    return statement.returning(returning) if returning is not None else statement


def _claim_signatures(session, submissions, fresh: list[int], outcomes) -> list[int]:
    """Record each signature (unique within ``fresh``, see ``plan_batch``); one used before is
    a replay. One INSERT for the batch, no look-up: this runs on every signed request."""
    signed = [submissions[i] for i in fresh if submissions[i].signature]
    if not signed:
        return fresh
    statement = _insert_ignoring_conflicts(session.get_bind().dialect.name, _signatures, _signatures.c.signature)
    rows = [{"signature": s.signature, "expires_at": signature_expiry(s)} for s in signed]
    claimed = set(session.execute(statement, rows).scalars())
    kept = []
    for i in fresh:
        signature = submissions[i].signature
        if signature is None or signature in claimed:
            kept.append(i)
        else:
            outcomes[i] = SignatureReplayed()
    return kept


def _open_cases(session, submissions, known_cases: KnownCases) -> list[str]:
    """One case per post: create the ones not known to exist (a concurrent creator wins
    harmlessly: the id is the same). Returns the batch's posts."""
    posts = {s.payload["post"]["id"]: s.received_at for s in submissions}
    missing = known_cases.missing(posts)
    if missing:
        session.execute(_insert_ignoring_conflicts(session.get_bind().dialect.name, _cases),
                        [{"id": case_id_for_post(post_id), "post_id": post_id, "created_at": posts[post_id]}
                         for post_id in missing])
    return list(posts)


def outbox_row(report: ReportRecord) -> dict:
    # The event id derives from the new report id, so it is staged here directly (no look-up).
    event = received_event(report)
    return {"event_id": event.id, "topic": REPORT_RECEIVED.topic, "key": report.case_id, "event_type": event.type,
            "subject": event.subject, "payload": event.to_json(), "created_at": utcnow(), "attempts": 0}


def received_event(report: ReportRecord):
    return make_event(
        REPORT_RECEIVED, source=SOURCE, subject=report.case_id, id=stable_id("report.received", report.id),
        time=report.received_at, validate=False,
        data={
            "report_id": report.id,
            "case_id": report.case_id,
            "kind": report.kind,
            "treated_as": report.treated_as,
            "received_at": report.received_at.isoformat(),
            "deadline_at": report.deadline_at.isoformat() if report.deadline_at else None,
            "request_type": report.request_type,
            "post": report.post,
            "reporter": report.reporter,
            "reason": report.reason,
            "reason_category": report.reason_category,
            "right_infringed": report.right_infringed,
            "is_repeat": report.is_repeat,
            "evidence_sha256": report.evidence_sha256,
            "receipt_number": report.receipt_number,
            "evidence": "requester" if report.source == FORM_SOURCE else "sns",
        },
    )


def purge_expired_signatures(db: Database) -> int:
    with db.unit_of_work() as uow:
        result = uow.session.execute(sa.delete(UsedSignature).where(UsedSignature.expires_at < utcnow()))
        uow.commit()
        return result.rowcount
