"""Intake's service layer: accept a report or deletion request exactly once, group it into
the post's case, preserve the evidence and stage the ``report.received`` event."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from shared import clock
from shared.db import Database, utcnow
from shared.events import REPORT_RECEIVED, make_event, stable_id
from shared.signing import TOLERANCE_SECONDS
from services.intake.models import Case, Outbox, Report, UsedSignature

SOURCE = "/modq/intake"


class SignatureReplayed(Exception):
    pass


@dataclass
class Accepted:
    result: dict
    created: bool


def evidence_hash(post: dict) -> str:
    """SHA-256 of the post as reported, in a canonical JSON form (証拠保全)."""
    canonical = json.dumps(post, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def classify_submission(payload: dict) -> tuple[str, str | None]:
    """A deletion request is a §22 request only if the person is the rights holder (or an
    agent with recorded authority) and names the right infringed; otherwise it is handled as
    a report and the response says why."""
    if payload["kind"] != "deletion_request":
        return "report", None
    reporter = payload["reporter"]
    if not (reporter.get("is_rights_holder") or (reporter.get("agent_authority") or "").strip()):
        return "report", "申出者が権利者本人（または権限のある代理人）ではないため、通報として扱います。"
    if not (payload.get("right_infringed") or "").strip():
        return "report", "侵害された権利が示されていないため、通報として扱います。"
    return "deletion_request", None


def _result(report) -> dict:
    """The response for a stored report (an ORM object or a row of the reports table)."""
    return {
        "report_id": report.id,
        "case_id": report.case_id,
        "received_at": clock.to_jst_iso(report.received_at),
        "kind": report.kind,
        "treated_as": report.treated_as,
        "note": report.treatment_note,
        "deadline_at": clock.to_jst_iso(report.deadline_at) if report.deadline_at else None,
        "is_repeat": report.is_repeat,
        "evidence_sha256": report.evidence_sha256,
    }


# The statements of the hot path, built once with bound parameters: building them per request
# (with literal values) cost more CPU than executing them.
_reports, _cases = Report.__table__, Case.__table__
FIND_BY_IDEMPOTENCY_KEY = sa.select(_reports).where(_reports.c.client_id == sa.bindparam("client_id"),
                                                    _reports.c.idempotency_key == sa.bindparam("key"))
FIND_CASE = sa.select(_cases.c.id).where(_cases.c.post_id == sa.bindparam("post_id"))
COUNT_EARLIER_REQUESTS = sa.select(sa.func.count()).select_from(_reports).where(
    _reports.c.case_id == sa.bindparam("case_id"), _reports.c.reporter_id == sa.bindparam("reporter_id"),
    _reports.c.treated_as == "deletion_request")
INSERT_CASE = _cases.insert()
INSERT_REPORT = _reports.insert()
INSERT_SIGNATURE = UsedSignature.__table__.insert()
INSERT_EVENT = Outbox.__table__.insert()


def _case_id_for_post(session, post_id: str, now: dt.datetime) -> str:
    case_id = session.scalar(FIND_CASE, {"post_id": post_id})
    if case_id is None:
        case_id = stable_id("case", post_id)
        # A concurrent insert of the same post fails here; the caller retries and finds it.
        session.execute(INSERT_CASE, {"id": case_id, "post_id": post_id, "created_at": now})
    return case_id


def _claim_signature(session, signature: str, now: dt.datetime) -> None:
    """Record the signature; the primary key makes a second use fail (a replay). One INSERT
    instead of a look-up and an insert: this runs on every signed request."""
    try:
        session.execute(INSERT_SIGNATURE, {"signature": signature,
                                           "expires_at": now + dt.timedelta(seconds=2 * TOLERANCE_SECONDS)})
    except IntegrityError:  # the transaction is rolled back by the caller's unit of work
        raise SignatureReplayed() from None


def submit_report(db: Database, payload: dict, *, client_id: str, idempotency_key: str | None,
                  source: str, signature: str | None = None, now: dt.datetime | None = None) -> Accepted:
    """Store one report/request and its outgoing event in one transaction.

    The same (client, idempotency key) returns the first result and stores nothing new.
    """
    for attempt in range(3):
        try:
            return _submit_once(db, payload, client_id=client_id, idempotency_key=idempotency_key,
                                source=source, signature=signature, now=now)
        except IntegrityError:
            # A concurrent request created the same case or used the same key: look again.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _submit_once(db, payload, *, client_id, idempotency_key, source, signature, now) -> Accepted:
    now = now or utcnow()
    with db.unit_of_work() as uow:
        session = uow.session
        if idempotency_key:
            existing = session.execute(FIND_BY_IDEMPOTENCY_KEY,
                                       {"client_id": client_id, "key": idempotency_key}).first()
            if existing is not None:
                return Accepted(_result(existing), created=False)
        if signature:
            _claim_signature(session, signature, now)
        post = payload["post"]
        case_id = _case_id_for_post(session, post["id"], now)
        treated_as, note = classify_submission(payload)
        reporter = payload["reporter"]
        is_repeat = False
        if treated_as == "deletion_request":
            is_repeat = session.scalar(COUNT_EARLIER_REQUESTS,
                                       {"case_id": case_id, "reporter_id": reporter["id"]}) > 0
        row = dict(
            id=str(uuid.uuid4()), case_id=case_id, kind=payload["kind"], treated_as=treated_as,
            treatment_note=note, source=source, client_id=client_id, idempotency_key=idempotency_key,
            received_at=now, deadline_at=clock.s25_deadline(now) if treated_as == "deletion_request" else None,
            request_type=payload.get("request_type") or "ordinary", reporter_id=reporter["id"],
            reporter=reporter, post=post, evidence_sha256=evidence_hash(post),
            reason=payload.get("reason"), reason_category=payload.get("reason_category"),
            right_infringed=payload.get("right_infringed"), is_repeat=is_repeat,
        )
        # Core INSERTs: the ORM's unit of work costs more than the statements on this hot path.
        session.execute(INSERT_REPORT, row)
        report = Report(**row)  # not added to the session: only read below
        event = received_event(report)
        # The event id derives from the new report id, so it cannot be staged yet (no look-up).
        session.execute(INSERT_EVENT, {
            "event_id": event.id, "topic": REPORT_RECEIVED.topic, "key": case_id, "event_type": event.type,
            "subject": event.subject, "payload": event.to_json(), "created_at": utcnow(), "attempts": 0})
        uow.commit()
        return Accepted(_result(report), created=True)


def received_event(report: Report):
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
        },
    )


def purge_expired_signatures(db: Database) -> int:
    with db.unit_of_work() as uow:
        result = uow.session.execute(sa.delete(UsedSignature).where(UsedSignature.expires_at < utcnow()))
        uow.commit()
        return result.rowcount
