"""Decision records: one self-contained record per decision, read in chunks.

A record carries everything the decision was made on (the clause as published then, the model
and its score, who decided under a pseudonym, the route, the requests it answered). Which notices
followed is the notifier's record (it owns the §25/§27 rules and their exceptions); a record names
none. The auditors' export, the §28 report and the DSA statements are
all built from these records, so they cannot disagree.

The requests a decision answered are read from its audit entry (``decision.*`` lists the report
ids that ``record_decision`` resolved or extended): that list is what the notifier was told, and
the hash chain protects it.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from shared import clock
from services.decision.audit.models import AuditEvent
from services.decision.cases.domain import OWN_DETECTION_REPORTER
from services.decision.cases.models import Case, CaseReport
from services.decision.decisions.domain import STEPS
from services.decision.decisions.models import Decision
from services.decision.users.models import User

ROUTES = ("request", "report", "own_detection")
STEP_EVENTS = tuple(f"decision.{step}" for step in STEPS)
CHUNK = 500


@dataclass(frozen=True)
class RecordFilter:
    start: dt.datetime | None = None
    end: dt.datetime | None = None       # exclusive
    measure: str | None = None          # an action: remove | hide | ... | poster_inquiry | reversal
    clause: str | None = None
    route: str | None = None
    ai: bool | None = None
    reversal: bool | None = None        # True: only reversals; False: no reversals


# --- the query ------------------------------------------------------------------------

def _report_exists(*conditions) -> sa.Exists:
    return sa.exists().where(CaseReport.case_id == Decision.case_id,
                             CaseReport.received_at <= Decision.decided_at, *conditions)


def route_expression() -> sa.Case:
    """request if any §22 request on the case preceded the decision, else report if any user
    report did, else own detection (no reporter, or no report at all)."""
    return sa.case(
        (_report_exists(CaseReport.treated_as == "deletion_request"), "request"),
        (_report_exists(CaseReport.reporter_id != OWN_DETECTION_REPORTER["id"]), "report"),
        else_="own_detection")


def _reversed_by() -> sa.ScalarSelect:
    later = aliased(Decision)
    return sa.select(later.id).where(later.reverses == Decision.id).limit(1).scalar_subquery()


def decision_query(f: RecordFilter, after: tuple[dt.datetime, str] | None = None) -> sa.Select:
    route = route_expression()
    query = (sa.select(Decision, User.pseudonym, Case.post, route.label("route"), _reversed_by().label("reversed_by"))
             .join(User, User.id == Decision.decided_by).join(Case, Case.id == Decision.case_id))
    conditions = [
        Decision.decided_at >= f.start if f.start else None,
        Decision.decided_at < f.end if f.end else None,
        Decision.action == f.measure if f.measure else None,
        Decision.clause_id == f.clause if f.clause else None,
        route == f.route if f.route else None,
        Decision.ai_assisted.is_(f.ai) if f.ai is not None else None,
        (Decision.action == "reversal") if f.reversal else None,
        (Decision.action != "reversal") if f.reversal is False else None,
    ]
    if after:
        at, decision_id = after
        conditions.append(sa.or_(Decision.decided_at > at, sa.and_(Decision.decided_at == at, Decision.id > decision_id)))
    return query.where(*[c for c in conditions if c is not None]).order_by(Decision.decided_at, Decision.id)


# --- what a chunk of decisions needs besides its rows ------------------------------------

class ChunkContext:
    """The audit entries and reports of the cases in one chunk, loaded with two queries."""

    def __init__(self, session: Session, case_ids: set[str]):
        self.reports = {r.report_id: r for r in session.scalars(
            sa.select(CaseReport).where(CaseReport.case_id.in_(case_ids)))}
        self.entries: dict[str, list[tuple[int, str, str, list[str]]]] = defaultdict(list)
        rows = session.execute(sa.select(AuditEvent.seq, AuditEvent.case_id, AuditEvent.event_type, AuditEvent.payload)
                               .where(AuditEvent.case_id.in_(case_ids), AuditEvent.event_type.like("decision.%"))
                               .order_by(AuditEvent.seq))
        for seq, case_id, event_type, payload in rows:
            body = _load(payload)
            self.entries[case_id].append((seq, body.get("decision_id"), event_type, list(body.get("requests") or [])))

    def answered(self, decision: Decision) -> tuple[list[CaseReport], set[str]]:
        """The reports this decision answered, and those of them already told of a delay (N3)."""
        entries = self.entries.get(decision.case_id, [])
        own = next((e for e in entries if e[1] == decision.id), None)
        if own is None:
            return [], set()
        interim = {rid for seq, _, kind, ids in entries if seq < own[0] and kind in STEP_EVENTS for rid in ids}
        return [self.reports[rid] for rid in own[3] if rid in self.reports], interim


def _load(payload: str) -> dict:
    try:
        body = json.loads(payload)
    except ValueError:
        return {}  # a damaged entry: verify_chain reports it; the record shows no requests
    return body if isinstance(body, dict) else {}


# --- records ----------------------------------------------------------------------------

def iter_records(session: Session, f: RecordFilter, chunk: int | None = None) -> Iterator[dict]:
    """Every matching decision as a record, in decision order, ``chunk`` rows in memory at a time."""
    result = session.execute(decision_query(f).execution_options(yield_per=chunk or CHUNK))
    for rows in result.partitions():
        context = ChunkContext(session, {row.Decision.case_id for row in rows})
        for row in rows:
            yield build_record(row, context)


def page(session: Session, f: RecordFilter, cursor: str | None, limit: int) -> tuple[list[dict], str | None]:
    rows = session.execute(decision_query(f, decode_cursor(cursor)).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    context = ChunkContext(session, {row.Decision.case_id for row in rows})
    records = [build_record(row, context) for row in rows]
    last = rows[-1].Decision if rows else None
    return records, encode_cursor(last.decided_at, last.id) if more and last else None


def encode_cursor(at: dt.datetime, decision_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), decision_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[dt.datetime, str] | None:
    if not cursor:
        return None
    try:
        at, decision_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return clock.parse_instant(at), str(decision_id)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid cursor ({exc})") from None


def build_record(row, context: ChunkContext) -> dict:
    d: Decision = row.Decision
    answered, interim = context.answered(d)
    requests = [r for r in answered if r.treated_as == "deletion_request"]
    return {
        "decision_id": d.id, "case_id": d.case_id, "action": d.action, "final": d.final, "measure": d.measure,
        "decided_at": clock.to_jst_iso(d.decided_at), "route": row.route,
        "clause": d.clause_snapshot, "exception_code": d.exception_code,
        "reason": d.reason, "facts": d.facts, "scope": d.scope or {},
        "suspension_until": clock.to_jst_iso(d.suspension_until) if d.suspension_until else None,
        "suspension_permanent": d.action == "suspend_account" and d.suspension_until is None,
        "delay_item": d.delay_item,
        "decided_by": {"role": d.decided_by_role, "pseudonym": row.pseudonym},
        "specialist_reviewed": d.specialist_reviewed,
        "ai": {"assisted": d.ai_assisted, "model_version": d.model_version, "score": d.score},
        "reverses": d.reverses, "reversed_by": row.reversed_by,
        "post": _post_facts(row.post),
        "reports_answered": len(answered),
        "trusted_flagger_notice": any((r.reporter or {}).get("trusted_flagger") for r in answered),
        "requests": [_request_facts(r, interim) for r in requests],
        # Which notices a decision led to is the notifier's to say (GET /v1/notices?decision_id=…
        # there): it owns the §25/§27 rules and their exceptions. Repeats are the requests' own fact.
        "repeat_requests": sum(r.is_repeat for r in requests),
        "time_to_decision_seconds": _time_to_decision(d, answered),
    }


def _post_facts(post: dict | None) -> dict:
    """What the post was, without its text or author: kinds of content and when it was posted."""
    post = post or {}
    kinds = sorted({(m.get("type") or "other") for m in post.get("media") or [] if isinstance(m, dict)})
    return {"id": post.get("id"), "posted_at": post.get("posted_at"), "has_text": bool(post.get("text")),
            "media_types": kinds}


def _request_facts(report: CaseReport, interim: set[str]) -> dict:
    return {"report_id": report.report_id, "right_infringed": report.right_infringed,
            "request_type": report.request_type, "is_repeat": report.is_repeat,
            "received_at": clock.to_jst_iso(report.received_at),
            "deadline_at": clock.to_jst_iso(report.deadline_at) if report.deadline_at else None,
            "interim_notice_before": report.report_id in interim}


def _time_to_decision(d: Decision, answered: list[CaseReport]) -> float | None:
    if not d.final or d.action == "reversal" or not answered:
        return None
    return (d.decided_at - min(r.received_at for r in answered)).total_seconds()


# --- CSV --------------------------------------------------------------------------------

CSV_COLUMNS = (
    "decision_id", "case_id", "decided_at", "action", "final", "measure", "route", "clause_id", "clause_version",
    "clause_title", "clause_text", "clause_published_at", "exception_code", "reason", "facts", "scope",
    "suspension_until", "suspension_permanent", "delay_item", "decided_by_role", "decided_by_pseudonym",
    "specialist_reviewed", "ai_assisted", "model_version", "score", "reverses", "reversed_by", "post_id",
    "reports_answered", "requests", "repeat_requests", "time_to_decision_seconds",
)


def csv_row(record: dict) -> list:
    clause = record["clause"] or {}
    values = {
        **{k: record[k] for k in ("decision_id", "case_id", "decided_at", "action", "final", "measure", "route",
                                  "exception_code", "reason", "facts", "suspension_until", "suspension_permanent",
                                  "delay_item", "specialist_reviewed", "reverses", "reversed_by",
                                  "reports_answered", "time_to_decision_seconds")},
        "clause_id": clause.get("id"), "clause_version": clause.get("version"), "clause_title": clause.get("title"),
        "clause_text": clause.get("text"), "clause_published_at": clause.get("published_at"),
        "scope": json.dumps(record["scope"], ensure_ascii=False, sort_keys=True),
        "decided_by_role": record["decided_by"]["role"], "decided_by_pseudonym": record["decided_by"]["pseudonym"],
        "ai_assisted": record["ai"]["assisted"], "model_version": record["ai"]["model_version"],
        "score": record["ai"]["score"], "post_id": record["post"]["id"], "requests": len(record["requests"]),
        "repeat_requests": record["repeat_requests"],
    }
    return [spreadsheet_safe(values[c]) for c in CSV_COLUMNS]


def spreadsheet_safe(value):
    """Free text that starts like a formula is prefixed so Excel shows it instead of running it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
