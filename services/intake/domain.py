"""Intake's rules, pure: what a submission is treated as (§22), which case it belongs to,
its evidence hash, when a deletion request repeats an earlier one, and how a batch of
submissions is settled (idempotency keys, replayed signatures). No database, no Flask."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, fields

from shared import clock
from shared.events import stable_id
from shared.signing import TOLERANCE_SECONDS
from shared.text import comparable
from services.intake.receipts import new_receipt_number

FORM_SOURCE = "form"  # Submission.source of the public form: the requester's word, not the SNS's


class SignatureReplayed(Exception):
    pass


@dataclass
class Accepted:
    result: dict
    created: bool


@dataclass(frozen=True)
class Submission:
    """One validated submission, as it reached us: ``received_at`` is the §22 time of receipt."""

    payload: dict
    client_id: str
    idempotency_key: str | None
    source: str
    received_at: dt.datetime
    signature: str | None = None


@dataclass(slots=True)
class ReportRecord:
    """A report or deletion request as it is stored: one row of the ``reports`` table."""

    id: str
    receipt_number: str
    case_id: str
    kind: str
    treated_as: str
    treatment_note: str | None
    source: str
    client_id: str
    idempotency_key: str | None
    received_at: dt.datetime
    deadline_at: dt.datetime | None
    request_type: str
    reporter_id: str
    reporter: dict
    post: dict
    evidence_sha256: str
    reason: str | None
    reason_category: str | None
    right_infringed: str | None
    is_repeat: bool

    def row(self) -> dict:
        """The column values (not ``dataclasses.asdict``: that deep-copies the post on the hot path)."""
        return {name: getattr(self, name) for name in COLUMNS}


COLUMNS = tuple(f.name for f in fields(ReportRecord))


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


def case_id_for_post(post_id: str) -> str:
    """A case's id derives from its post's id, so concurrent first reports agree on it."""
    return stable_id("case", post_id)


def same_request_key(right_infringed: str | None) -> str:
    """What makes two requests by one person about one post 同一の内容 (§25(1) proviso): the
    right claimed, compared after normalising width, spaces and case. A request for another
    right is a request of its own, with its own notice."""
    return comparable(right_infringed)


def signature_expiry(s: Submission) -> dt.datetime | None:
    """Until when a signature is kept: past it, the timestamp check refuses a replay anyway."""
    return s.received_at + dt.timedelta(seconds=2 * TOLERANCE_SECONDS) if s.signature else None


def result_of(report) -> dict:
    """The response for a stored report (a ReportRecord, an ORM object or a row of the table)."""
    return {
        "report_id": report.id,
        "receipt_number": report.receipt_number,
        "case_id": report.case_id,
        "received_at": clock.to_jst_iso(report.received_at),
        "kind": report.kind,
        "treated_as": report.treated_as,
        "note": report.treatment_note,
        "deadline_at": clock.to_jst_iso(report.deadline_at) if report.deadline_at else None,
        "is_repeat": report.is_repeat,
        "evidence_sha256": report.evidence_sha256,
    }


def plan_batch(submissions: list[Submission], stored: dict) -> tuple[list, list[int], dict[int, int]]:
    """Decide what a batch must write, before writing: a key stored before gets its first
    result; a signature already used earlier in the batch is a replay; a key sent twice in the
    batch is written once. Returns the outcomes known so far, the positions to write, and
    each later duplicate's first position (see ``settle_later``)."""
    outcomes: list[Accepted | SignatureReplayed | None] = [None] * len(submissions)
    fresh, later, signatures, first_of_key = [], {}, set(), {}
    for i, s in enumerate(submissions):
        key = (s.client_id, s.idempotency_key)
        if s.idempotency_key and key in stored:
            outcomes[i] = Accepted(result_of(stored[key]), created=False)
        elif s.signature and s.signature in signatures:
            outcomes[i] = SignatureReplayed()
        elif s.idempotency_key and key in first_of_key:
            later[i] = first_of_key[key]
        else:
            signatures.add(s.signature)
            first_of_key[key] = i
            fresh.append(i)
    return outcomes, fresh, later


def settle_later(submissions, outcomes, later: dict[int, int], store_again) -> None:
    """A later duplicate of a key gets its first's result; if the first was a replay, the
    later one is judged on its own (``store_again`` writes those)."""
    again = []
    for i, first in later.items():
        if isinstance(outcomes[first], Accepted):
            outcomes[i] = Accepted(outcomes[first].result, created=False)
        else:
            again.append(i)
    if again:
        for i, outcome in zip(again, store_again([submissions[i] for i in again])):
            outcomes[i] = outcome


def new_reports(submissions: list[Submission], earlier_requests: set) -> list[ReportRecord]:
    """The records to store; a deletion request is a repeat if the same person asked about the
    same post for the same right before (stored, or earlier in this batch)."""
    asked = set(earlier_requests)
    records = []
    for s in submissions:
        record = new_report(s)
        if record.treated_as == "deletion_request":
            pair = (record.case_id, record.reporter_id, same_request_key(record.right_infringed))
            record.is_repeat = pair in asked
            asked.add(pair)
        records.append(record)
    return records


def new_report(s: Submission) -> ReportRecord:
    payload, now = s.payload, s.received_at
    post, reporter = payload["post"], payload["reporter"]
    treated_as, note = classify_submission(payload)
    return ReportRecord(
        id=str(uuid.uuid4()), receipt_number=new_receipt_number(), case_id=case_id_for_post(post["id"]), kind=payload["kind"], treated_as=treated_as,
        treatment_note=note, source=s.source, client_id=s.client_id, idempotency_key=s.idempotency_key,
        received_at=now, deadline_at=clock.s25_deadline(now) if treated_as == "deletion_request" else None,
        request_type=payload.get("request_type") or "ordinary", reporter_id=reporter["id"],
        reporter=reporter, post=post, evidence_sha256=evidence_hash(post),
        reason=payload.get("reason"), reason_category=payload.get("reason_category"),
        right_infringed=payload.get("right_infringed"), is_repeat=False,
    )
