"""The §28 yearly transparency report (運用状況の公表), computed from the decision service's records.

Every item that law.md's §28 row lists has a key here. Figures that the decision service cannot
observe directly are marked in ``derived`` (computed from decisions the way the notifier issues
notices) or left null with a note in ``notes`` (filled by the operator, or recorded elsewhere).
"""
from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter, defaultdict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared import clock
from shared.db import utcnow
from shared.settings import env
from services.decision.cases.domain import OWN_DETECTION_REPORTER
from services.decision.audit import notice_figures, periods
from services.decision.audit.models import Appeal
from services.decision.audit.records import ROUTES, RecordFilter, iter_records
from services.decision.decisions.domain import RESTRICTIVE_MEASURES
from services.decision.cases.models import CaseReport
from services.decision.decisions.models import Decision

UNSPECIFIED = "unspecified"
HOUR = 3600.0
# Time-to-decision buckets (upper bounds in hours); the last bucket is open-ended.
BUCKETS = ((1, "1時間未満"), (6, "1〜6時間"), (24, "6〜24時間"), (48, "1〜2日"), (72, "2〜3日"),
           (168, "3〜7日"), (336, "7〜14日"), (math.inf, "14日以上"))
PERCENTILES = (50, 75, 90, 95, 99)
OPERATOR_FIELDS = ("japanese_reviewers", "staff_training", "self_evaluation", "content_types_added_s26_3")

DERIVED: list[str] = []
NOTES = {
    "s25_notices": "通知の件数は通知サービスの記録（送った通知、届かなかった通知、通知しなかった理由）によります。"
                   "届かなかった通知と保留中の通知は送った件数に含めません。",
    "s27_notices": "N4 の件数と、第27条ただし書により通知しなかった件数・理由は通知サービスの記録によります。",
    "operator": "運営者が記入する項目です（MODQ_TRANSPARENCY_OPERATOR_FILE に JSON で指定）。未指定の項目は null です。",
}
NOTICES_MISSING = "通知サービスから集計を取得できなかったため、通知の件数は空欄です（推計はしません）。"


def generate(session: Session, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None,
             notice_stats: dict | None = None) -> dict:
    """The report over [start, end). ``notice_stats``: the notifier's counts for the period
    (notice_figures.fetch); without them the notice sections are null and the notes say why."""
    now = now or utcnow()
    tally = DecisionTally(start, end)
    for record in iter_records(session, RecordFilter(start=start, end=end)):
        tally.add(record)
    intake = intake_counts(session, start, end)
    report = {
        "title": "情報流通プラットフォーム対処法第28条に基づく運用状況の公表",
        "period": periods.describe(start, end), "generated_at": clock.to_jst_iso(now),
        "requests": intake["requests"], "user_reports": intake["user_reports"],
        "own_detection": intake["own_detection"],
        **tally.sections(),
        **(notice_figures.sections(notice_stats) if notice_stats is not None
           else {"s25_notices": None, "s27_notices": None}),
        "s25_timeliness": timeliness(session, start, end, now),
        "appeals": appeal_counts(session, start, end, tally),
        "monthly": monthly(start, end, intake["monthly"], tally.monthly),
        "operator": operator_fields(),
        "derived": DERIVED, "notes": NOTES if notice_stats is not None else {**NOTES, "notices_missing": NOTICES_MISSING},
    }
    return report


# --- deletion requests and reports received -------------------------------------------------

def intake_counts(session: Session, start: dt.datetime, end: dt.datetime) -> dict:
    requests, reports, own = _Section(), _Section(), _Section()
    treated_as_report = 0
    by_month: dict[str, Counter] = defaultdict(Counter)
    rows = session.execute(
        sa.select(CaseReport.kind, CaseReport.treated_as, CaseReport.reporter_id, CaseReport.right_infringed,
                  CaseReport.reason_category, CaseReport.request_type, CaseReport.is_repeat, CaseReport.received_at,
                  CaseReport.reporter)
        .where(CaseReport.received_at >= start, CaseReport.received_at < end).execution_options(yield_per=2000))
    for kind, treated_as, reporter_id, right, category, request_type, is_repeat, received_at, reporter in rows:
        month = by_month[periods.month_key(received_at)]
        if treated_as == "deletion_request":
            # 施行規則第18条: requests from public bodies and courts are shown apart
            requests.count(by_right_infringed=right or UNSPECIFIED, by_request_type=request_type,
                           by_requester_type=(reporter or {}).get("requester_type") or "person")
            requests.flag("repeat", is_repeat)
            month["requests"] += 1
        elif reporter_id == OWN_DETECTION_REPORTER["id"]:
            own.count(by_category=category or UNSPECIFIED)
            month["own_detection"] += 1
        else:
            reports.count(by_reason_category=category or right or UNSPECIFIED)
            treated_as_report += kind == "deletion_request"
            month["user_reports"] += 1
    user_reports = reports.result()
    # §22 requests from someone who is not the rights holder are handled as user reports (law.md edge case 3)
    user_reports["requests_treated_as_reports"] = treated_as_report
    return {"requests": requests.result(), "user_reports": user_reports, "own_detection": own.result(),
            "monthly": by_month}


class _Section:
    """A total with breakdowns: ``count(by_x=value)`` adds one to the total and to each breakdown."""

    def __init__(self):
        self.total = 0
        self.breakdowns: dict[str, Counter] = defaultdict(Counter)
        self.flags: Counter = Counter()

    def count(self, n: int = 1, **breakdowns) -> None:
        self.total += n
        for name, value in breakdowns.items():
            self.breakdowns[name][value] += n

    def flag(self, name: str, on: bool) -> None:
        self.flags[name] += 1 if on else 0

    def result(self) -> dict:
        out = {"total": self.total}
        out.update({name: dict(sorted(c.items())) for name, c in sorted(self.breakdowns.items())})
        out.update(self.flags)
        return out


# --- decisions ------------------------------------------------------------------------------

class DecisionTally:
    """Folds decision records into the report's decision figures (one pass, constant memory
    apart from the time-to-decision samples)."""

    def __init__(self, start: dt.datetime, end: dt.datetime):
        self.interim, self.interim_requests, self.other_reasons = _Section(), 0, Counter()
        self.not_taken = {route: 0 for route in ROUTES}
        self.measures = _Section()
        self.by_route = {route: _Section() for route in ROUTES}
        self.suspensions = _Section()
        self.finals_with_ai = self.finals = 0
        self.measures_with_ai = _Section()
        self.reversed_ids: list[str] = []
        self.durations: list[float] = []
        self.monthly: dict[str, Counter] = defaultdict(Counter)

    def add(self, record: dict) -> None:
        month = self.monthly[record["decided_at"][:7]]
        if record["action"] == "reversal":
            self.reversed_ids.append(record["reverses"])
            month["reversals"] += 1
            return
        self._notices(record)
        if record["final"]:
            self._final(record, month)
        else:
            month["interim_steps"] += 1

    def _notices(self, record: dict) -> None:
        """Why decisions took longer than 7 days (the §25(2) items and, for item iii, the reason
        given): the interim steps themselves, not the notices (those are the notifier's)."""
        if record["final"] or not record["delay_item"]:
            return
        requests = sum(1 for r in record["requests"] if not r["is_repeat"])
        self.interim.count(by_item=record["delay_item"])
        self.interim_requests += requests
        if record["delay_item"] == "iii":
            self.other_reasons[record.get("requester_reason") or record["reason"] or UNSPECIFIED] += 1

    def _final(self, record: dict, month: Counter) -> None:
        self.finals += 1
        self.finals_with_ai += record["ai"]["assisted"]
        if record["time_to_decision_seconds"] is not None:
            self.durations.append(record["time_to_decision_seconds"] / HOUR)
        if record["measure"] not in RESTRICTIVE_MEASURES:
            month["no_action"] += 1
            self.not_taken[record["route"]] += 1
            return
        month["measures"] += 1
        self.measures.count(by_measure=record["measure"])
        self.by_route[record["route"]].count(by_measure=record["measure"])
        if record["ai"]["assisted"]:
            self.measures_with_ai.count(by_measure=record["measure"])
        if record["measure"] == "suspend_account":
            self.suspensions.count(by_clause=_ground(record),
                                   by_duration="permanent" if record["suspension_permanent"] else "temporary")

    def sections(self) -> dict:
        return {
            "s25_2_extensions": {**self.interim.result(), "requests": self.interim_requests,
                                 "other_reasons_iii": dict(sorted(self.other_reasons.items()))},
            "measures_not_taken": {"by_route": dict(self.not_taken),
                                   "on_user_reports": self.not_taken["report"],
                                   "on_own_detection": self.not_taken["own_detection"]},
            "measures": {**self.measures.result(),
                         "by_route": {route: s.result() for route, s in self.by_route.items()}},
            "measures_on_user_reports": self.by_route["report"].result(),
            "measures_on_own_detection": self.by_route["own_detection"].result(),
            "account_suspensions": self.suspensions.result(),
            "ai": self._ai(),
            "time_to_decision": distribution(self.durations),
        }

    def _ai(self) -> dict:
        with_ai = self.measures_with_ai.result()
        return {"measures_with_ai": with_ai, "measures_total": self.measures.total,
                "measures_ai_share": _share(with_ai["total"], self.measures.total),
                "final_decisions_with_ai": self.finals_with_ai, "final_decisions": self.finals,
                "definition": "分類モデルのスコアを参照して人が判断した決定（ai_assisted）。自動判断による措置はありません。"}


def _ground(record: dict) -> str:
    clause = record["clause"] or {}
    return clause.get("id") or (f"exception:{record['exception_code']}" if record["exception_code"] else UNSPECIFIED)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- distributions --------------------------------------------------------------------------

def distribution(hours: list[float]) -> dict:
    """Percentiles (nearest rank) and histogram buckets of time to decision, in hours."""
    ordered = sorted(hours)
    histogram = Counter()
    for value in ordered:
        histogram[next(label for bound, label in BUCKETS if value < bound)] += 1
    return {
        "unit": "hours", "count": len(ordered),
        "definition": "最初の申出・通報の受付から最終決定まで（取消しを除く）",
        "percentiles": {f"p{p}": round(_nearest_rank(ordered, p), 3) if ordered else None for p in PERCENTILES},
        "mean": round(sum(ordered) / len(ordered), 3) if ordered else None,
        "histogram": [{"bucket": label, "upper_hours": None if math.isinf(bound) else bound,
                       "count": histogram[label]} for bound, label in BUCKETS],
    }


def _nearest_rank(ordered: list[float], percentile: int) -> float:
    rank = max(1, math.ceil(percentile / 100 * len(ordered)))
    return ordered[rank - 1]


# --- §25 timeliness -------------------------------------------------------------------------

def timeliness(session: Session, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> dict:
    """Share of requests received in the period that were answered (final decision, or an
    interim step that sends N3) by their §25 deadline. Repeat requests need no notice and are
    left out; requests whose deadline has not come yet and that are still unanswered are pending."""
    first_answer = (sa.select(sa.func.min(Decision.decided_at))
                    .where(Decision.case_id == CaseReport.case_id, Decision.decided_at >= CaseReport.received_at,
                           Decision.action != "reversal").scalar_subquery())
    final_at = sa.select(Decision.decided_at).where(Decision.id == CaseReport.resolved_by).scalar_subquery()
    rows = session.execute(
        sa.select(CaseReport.deadline_at, first_answer, final_at)
        .where(CaseReport.treated_as == "deletion_request", CaseReport.is_repeat.is_(False),
               CaseReport.received_at >= start, CaseReport.received_at < end).execution_options(yield_per=2000))
    counts = Counter()
    for deadline, answered_at, decided_at in rows:
        counts.update(_timeliness_of(deadline, answered_at, decided_at, now))
    due = counts["total"] - counts["pending"]
    return {**{k: counts[k] for k in ("total", "pending", "answered_within_deadline", "final_within_deadline", "late")},
            "answered_within_deadline_share": _share(counts["answered_within_deadline"], due),
            "final_within_deadline_share": _share(counts["final_within_deadline"], due),
            "definition": "受付から7日（§25、日本時間の暦日）以内に N1/N2 または N3 を送る決定をした申出の割合"}


def _timeliness_of(deadline, answered_at, decided_at, now) -> list[str]:
    # A value read from a correlated MIN() on SQLite may come back as text
    answered_at, decided_at = _instant(answered_at), _instant(decided_at)
    keys = ["total"]
    if deadline is None:
        return keys
    if answered_at is not None and answered_at <= deadline:
        keys.append("answered_within_deadline")
    elif answered_at is None and deadline > now:
        keys.append("pending")
    else:
        keys.append("late")
    if decided_at is not None and decided_at <= deadline:
        keys.append("final_within_deadline")
    return keys


def _instant(value):
    if value is None or isinstance(value, dt.datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.timezone.utc)


# --- appeals --------------------------------------------------------------------------------

def appeal_counts(session: Session, start: dt.datetime, end: dt.datetime, tally: DecisionTally) -> dict:
    submitted = session.execute(
        sa.select(Appeal.status, Decision.measure, Decision.ai_assisted).join(Decision, Decision.id == Appeal.decision_id)
        .where(Appeal.submitted_at >= start, Appeal.submitted_at < end)).all()
    reviewed = Counter(session.scalars(sa.select(Appeal.status).where(Appeal.reviewed_at >= start,
                                                                     Appeal.reviewed_at < end)))
    reversed_with_ai = sum(1 for ids in _chunks(tally.reversed_ids) for _ in session.scalars(
        sa.select(Decision.id).where(Decision.id.in_(ids), Decision.ai_assisted.is_(True))))
    reversals = len(tally.reversed_ids)
    return {
        "submitted": len(submitted),
        "submitted_by_measure": dict(sorted(Counter(m for _, m, _ in submitted).items())),
        "submitted_on_ai_assisted": sum(1 for *_, ai in submitted if ai),
        "pending": sum(1 for status, *_ in submitted if status == "open"),
        "upheld": reviewed["upheld"], "reversed": reviewed["reversed"],
        "reversals": reversals, "reversals_of_ai_assisted": reversed_with_ai,
        "reversals_ai_share": _share(reversed_with_ai, reversals),
        "definition": "申立て件数は期間内に受け付けたもの、維持・取消しは期間内に審査したもの。"
                      "取消しの AI 比率は、取り消された元の決定のうち ai_assisted だったものの割合。",
    }


def _chunks(items: list[str], size: int = 500):
    for i in range(0, len(items), size):
        yield items[i:i + size]


# --- volumes by month -----------------------------------------------------------------------

MONTHLY_KEYS = ("requests", "user_reports", "own_detection", "measures", "no_action", "interim_steps", "reversals")


def monthly(start: dt.datetime, end: dt.datetime, intake: dict[str, Counter], decisions: dict[str, Counter]) -> list:
    rows = []
    for month in periods.months(start, end):
        merged = intake.get(month, Counter()) + decisions.get(month, Counter())
        rows.append({"month": month, **{k: merged.get(k, 0) for k in MONTHLY_KEYS}})
    return rows


# --- what the operator fills in -----------------------------------------------------------

def operator_fields() -> dict:
    """Items only the operator knows: reviewers who understand Japanese, staff training, the
    self-evaluation, content types added under §26(3). From a JSON file; null when not given."""
    path = env("MODQ_TRANSPARENCY_OPERATOR_FILE")
    given = {}
    if path:
        with open(path, encoding="utf-8") as fh:
            given = json.load(fh)
    return {name: given.get(name) for name in OPERATOR_FIELDS}


# --- flat rows for CSV ----------------------------------------------------------------------

def flatten(report: dict, prefix: str = "") -> list[tuple[str, object]]:
    """("section.item.key", value) rows: one figure per line, for spreadsheets."""
    rows = []
    for key, value in report.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            rows.extend(flatten(value, path))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                label = item.get("month") or item.get("bucket") or str(i)
                rows.extend(flatten({k: v for k, v in item.items() if k not in ("month", "bucket")}, f"{path}.{label}"))
        elif isinstance(value, list):
            rows.append((path, " ".join(str(v) for v in value)))
        else:
            rows.append((path, value))
    return rows
