"""Pure rules of the decision service (no Flask, no Kafka, no database).

Priority
--------
A case's priority is a number from 0 to 100 (higher first), the sum of:

* up to 40 for the classifier's abuse score (the highest on any report of the case);
* up to 15 for the severity of the most likely category (threat and privacy weigh most);
* up to 10 for the number of distinct reporters (logarithmic: 1 → 2, 32+ → 10);
* 10 when a §22 deletion request is waiting;
* up to 25 for the §25 clock: 25 when the earliest deadline still owed a notice is within
  the warning window (default 24 h) or past, falling linearly to 0 at 7 days left;
* 20 for a credible threat of violence (the classifier gives "threat" at least 0.8);
  the sum is capped at 100.

A case whose deadline is within the warning window (or past) and that has neither a decision
nor an interim notice is *at risk*: 100 is added, so it sits above every case that is not,
whatever their scores. Priority therefore runs from 0 to 200; the queue marks at-risk cases.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
from dataclasses import dataclass

from shared import clock

SEVERITY = {
    "threat": 1.0,
    "privacy": 0.9,
    "sexual": 0.9,
    "defamation": 0.8,
    "discrimination": 0.8,
    "insult": 0.6,
    "none": 0.0,
}

MEASURES = ("remove", "hide", "suspend_account", "no_action")
STEPS = ("poster_inquiry", "refer_specialist", "delay_other")
ACTIONS = MEASURES + STEPS

# §26 exceptions: a measure without a published clause is allowed only with one of these.
EXCEPTION_CODES = {
    "own_post": "事業者自らの投稿（§26 ただし書）",
    "legal_duty": "法令上の義務に基づく措置（§26 ただし書）",
    "urgent_unforeseen": "緊急かつ予見できなかった類型の情報（§26 ただし書、基準を速やかに改定）",
}

# §25(2) items for an interim notice (N3)
DELAY_ITEMS = {"i": "発信者への意見照会を行うため", "ii": "侵害情報調査専門員による調査を行うため",
               "iii": "その他やむを得ない理由"}

# A bound for SQL pre-filters only; the §26 count itself is shared.clock.criteria_in_force_from.
CRITERIA_MIN_AGE = dt.timedelta(days=14)

# A report.received event without a reporter is the operator's own detection (§28 route).
OWN_DETECTION_REPORTER = {"id": "system:own_detection"}


def top_category(categories: dict | None) -> str | None:
    if not categories:
        return None
    candidates = {k: v for k, v in categories.items() if k != "none"}
    if not candidates:
        return None
    return max(candidates, key=candidates.get)


def deadline_urgency(next_deadline_at: dt.datetime | None, now: dt.datetime,
                     warning: dt.timedelta = dt.timedelta(hours=24)) -> float:
    if next_deadline_at is None:
        return 0.0
    left = next_deadline_at - now
    if left <= warning:
        return 1.0
    span = dt.timedelta(days=7) - warning
    return max(0.0, 1.0 - (left - warning) / span)


# A credible threat of violence (the classifier is confident it is a threat) is lifted by this
# much, so a single report of one outranks a much-reported insult: someone may be in danger.
CREDIBLE_THREAT = 0.8
THREAT_LIFT = 20.0


def priority_parts(*, score: float | None, categories: dict | None, reporter_count: int,
                   has_request: bool, next_deadline_at: dt.datetime | None, now: dt.datetime,
                   warning: dt.timedelta = dt.timedelta(hours=24)) -> dict[str, float]:
    """Each term of a case's priority (see the module's docstring), so the queue can say why."""
    category = top_category(categories)
    severity = SEVERITY.get(category, 0.5) * (categories or {}).get(category, 0.0) if category else 0.0
    reporters = min(1.0, math.log2(1 + max(0, reporter_count)) / math.log2(33))
    credible_threat = category == "threat" and (categories or {}).get("threat", 0.0) >= CREDIBLE_THREAT
    return {
        "score": round(40 * (score or 0.0), 3),
        "severity": round(15 * min(1.0, severity / 0.9 if severity else 0.0), 3),
        "reporters": round(10 * reporters, 3),
        "request": 10.0 if has_request else 0.0,
        "deadline": round(25 * deadline_urgency(next_deadline_at, now, warning), 3),
        "threat": THREAT_LIFT if credible_threat else 0.0,
        "at_risk": 100.0 if is_near_deadline(next_deadline_at, now, warning) else 0.0,
    }


def compute_priority(**terms) -> float:
    parts = priority_parts(**terms)
    value = sum(v for k, v in parts.items() if k != "at_risk")
    return round(min(100.0, value) + parts["at_risk"], 3)


def is_near_deadline(next_deadline_at: dt.datetime | None, now: dt.datetime,
                     warning: dt.timedelta = dt.timedelta(hours=24)) -> bool:
    return next_deadline_at is not None and next_deadline_at - now <= warning


class DecisionRefused(ValueError):
    """A decision that must not be recorded; ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


@dataclass(frozen=True)
class DecisionInput:
    action: str
    reason: str
    clause_id: str | None = None
    exception_code: str | None = None
    facts: str | None = None
    scope: dict | None = None
    suspension_until: dt.datetime | None = None
    suspension_permanent: bool = False
    delay_item: str | None = None
    expected_version: int | None = None
    reverses: str | None = None
    # A supervisor (or admin) may decide a case without holding its claim; the override is audited.
    override_claim: bool = False
    requester_reason: str | None = None  # told to requesters (N2, N3 item iii); ``reason`` stays internal


def validate_input(data: DecisionInput, now: dt.datetime) -> None:
    """Checks that need nothing but the input itself."""
    if data.action not in ACTIONS:
        raise DecisionRefused(f"unknown action {data.action!r}", "measure")
    if not (data.reason or "").strip():
        raise DecisionRefused("理由を入力してください（reason is required）", "reason")
    is_measure = data.action in ("remove", "hide", "suspend_account")
    if is_measure and not data.clause_id and not data.exception_code:
        raise DecisionRefused("措置には公表済み基準の条項か例外コードが必要です（§26; clause_id or exception_code required）",
                              "clause_id")
    if data.exception_code and data.exception_code not in EXCEPTION_CODES:
        raise DecisionRefused(f"unknown exception code {data.exception_code!r}", "exception_code")
    if data.action == "suspend_account":
        if not data.suspension_permanent and data.suspension_until is None:
            raise DecisionRefused("アカウント停止には終了日時か「無期限」の指定が必要です（end date or permanent）",
                                  "suspension_until")
        if data.suspension_until is not None and data.suspension_until <= now:
            raise DecisionRefused("停止の終了日時は将来でなければなりません（end date must be in the future）",
                                  "suspension_until")
    if data.action == "suspend_account" and data.suspension_permanent and data.suspension_until is not None:
        raise DecisionRefused("終了日時と「無期限」は同時に指定できません（end date or permanent, not both）",
                              "suspension_until")
    if data.requester_reason is not None and len(data.requester_reason) > 5000:
        raise DecisionRefused("申出者への理由は5000文字以内です（requester_reason too long）", "requester_reason")
    validate_scope(data.scope)
    if data.action == "delay_other":
        if data.delay_item not in (None, "iii"):
            raise DecisionRefused("delay_other is §25(2)(iii)", "delay_item")


VISIBILITIES = ("japan_only",)


def validate_scope(scope: dict | None) -> None:
    """The exact scope of a measure (§3(2)(i)): the whole post, or some of its media, and
    optionally only viewers in Japan."""
    if scope is None:
        return
    if not isinstance(scope, dict):
        raise DecisionRefused("scope must be an object", "scope")
    unknown = set(scope) - {"whole_post", "items", "visibility"}
    if unknown:
        raise DecisionRefused(f"scope: unknown fields {sorted(unknown)}", "scope")
    items = scope.get("items") or []
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        raise DecisionRefused("対象の一部はメディアIDの一覧で指定してください（scope.items: list of media ids）",
                              "scope.items")
    if scope.get("visibility") not in (None, *VISIBILITIES):
        raise DecisionRefused(f"閲覧制限の範囲が不正です（scope.visibility: one of {VISIBILITIES}）",
                              "scope.visibility")


def check_scope_items(scope: dict | None, post: dict) -> None:
    """Partial measures name media that the preserved post really has."""
    items = (scope or {}).get("items") or []
    known = {str(m.get("id")) for m in post.get("media") or [] if isinstance(m, dict) and m.get("id")}
    missing = [i for i in items if i not in known]
    if missing:
        raise DecisionRefused(f"投稿にないメディアIDです: {', '.join(missing)}（scope.items: unknown media ids）",
                              "scope.items")


def normal_scope(scope: dict | None) -> dict:
    items = list((scope or {}).get("items") or [])
    return {"whole_post": not items, "items": items, "visibility": (scope or {}).get("visibility")}


CLAUSE_ROUTES = ("request", "report", "own_detection")
CLAUSE_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def clean_clause(clause_id: str, fields: dict) -> dict:
    """A clause's fields, checked: criteria must be specific and plainly written (§26)."""
    if not clause_id or len(clause_id) > 32 or not set(clause_id) <= CLAUSE_ID_CHARS:
        raise DecisionRefused("条項IDは英大文字・数字・ハイフンで32文字以内です（clause_id: A-Z 0-9 -）", "clause_id")
    title, text = (fields.get("title") or "").strip(), (fields.get("text") or "").strip()
    if not title or len(title) > 200:
        raise DecisionRefused("条項の見出しを200文字以内で入力してください（title required）", "title")
    if not text:
        raise DecisionRefused("条項の本文を入力してください（text required）", "text")
    routes, measures = list(fields.get("routes") or []), list(fields.get("measures") or [])
    if not routes or not set(routes) <= set(CLAUSE_ROUTES):
        raise DecisionRefused(f"対象となる経路を1つ以上選んでください（routes ⊆ {CLAUSE_ROUTES}）", "routes")
    allowed = ("remove", "hide", "suspend_account")
    if not measures or not set(measures) <= set(allowed):
        raise DecisionRefused(f"措置を1つ以上選んでください（measures ⊆ {allowed}）", "measures")
    covers_suspension = bool(fields.get("covers_suspension"))
    if covers_suspension != ("suspend_account" in measures):
        raise DecisionRefused("アカウント停止を定める条項は措置に「アカウント停止」を含めてください"
                              "（covers_suspension must match measures）", "covers_suspension")
    category = (fields.get("category") or "").strip() or None
    if category and len(category) > 32:
        raise DecisionRefused("分類は32文字以内です（category too long）", "category")
    examples = [e.strip() for e in fields.get("examples") or [] if e and e.strip()]
    return {"title": title, "text": text, "category": category, "routes": routes, "measures": measures,
            "covers_suspension": covers_suspension, "examples": examples}


REQUESTER_REASON_ACTIONS = ("no_action", "delay_other")


def check_requester_reason(data: DecisionInput, open_requests: int) -> None:
    """N2 must give the requester the reason, N3 under item iii what the reason is (§25):
    written for them, in a field of its own, not the moderator's note."""
    if data.action in REQUESTER_REASON_ACTIONS and open_requests and not (data.requester_reason or "").strip():
        raise DecisionRefused("申出者に伝える理由を入力してください（第25条。requester_reason is required when "
                              "requests are answered with no measure or an extension for another reason）",
                              "requester_reason")


def report_route(treated_as: str, reporter_id: str | None) -> str:
    """The §28 route a report came by: a §22 request, a user report, or own detection."""
    if treated_as == "deletion_request":
        return "request"
    return "own_detection" if reporter_id == OWN_DETECTION_REPORTER["id"] else "report"


def check_clause_applies(clause_id: str, measures: list, routes: list, action: str, case_routes: set) -> None:
    """A clause grounds only the measures it names, and only for the routes it covers (§26:
    criteria specific per route and per measure)."""
    if action not in (measures or []):
        raise DecisionRefused(f"条項 {clause_id} はこの措置（{action}）を定めていません"
                              f"（clause allows only {sorted(measures or [])}）", "clause_id", status=422)
    if case_routes and not case_routes & set(routes or []):
        raise DecisionRefused(f"条項 {clause_id} はこの案件の経路（{'、'.join(sorted(case_routes))}）に適用されません"
                              f"（clause covers routes {sorted(routes or [])}）", "clause_id", status=422)


def criteria_in_force_since(published_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Published at least 14 whole JST calendar days before ``now`` (shared.clock owns the count)."""
    return published_at is not None and clock.criteria_in_force_from(published_at) <= now


# --- the hash chain -------------------------------------------------------------------

GENESIS = "0" * 64


def canonical(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def chain_hash(prev_hash: str, *, seq: int, case_id: str | None, event_type: str, actor: str,
               at: dt.datetime, payload: str, key: bytes | None) -> str:
    """HMAC-SHA256 under ``key`` of the previous hash and the entry; ``key=None`` is the plain
    SHA-256 of entries written before the log was keyed."""
    body = canonical({"seq": seq, "case_id": case_id, "event_type": event_type, "actor": actor,
                      "at": at.astimezone(dt.timezone.utc).isoformat(), "payload": payload})
    message = (prev_hash + body).encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
