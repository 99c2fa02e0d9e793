"""Pure rules of decisions (no Flask, no Kafka, no database): what a decision must carry to
be recorded (§26 grounds, the scope of a measure, the reason the requesters are told)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.decision.errors import DecisionRefused

# Measures that restrict the post or its author (§26 needs grounds for them; the poster may appeal).
RESTRICTIVE_MEASURES = ("remove", "hide", "suspend_account")
MEASURES = RESTRICTIVE_MEASURES + ("no_action",)
STEPS = ("poster_inquiry", "refer_specialist", "delay_other")
ACTIONS = MEASURES + STEPS

# §26 exceptions: a measure without a published clause is allowed only with one of these.
EXCEPTION_CODES = {
    "own_post": "事業者自らの投稿（§26 ただし書）",
    "legal_duty": "法令上の義務に基づく措置（§26 ただし書）",
    "urgent_unforeseen": "緊急かつ予見できなかった類型の情報（§26 ただし書、基準を速やかに改定）",
}

# The step a decision takes is the §25(2) item its interim notice (N3) names.
DELAY_ITEM_OF_STEP = {"poster_inquiry": "i", "refer_specialist": "ii", "delay_other": "iii"}


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
    expected_version: int | None = None
    # A supervisor (or admin) may decide a case without holding its claim; the override is audited.
    override_claim: bool = False
    requester_reason: str | None = None  # told to requesters (N2, N3 item iii); ``reason`` stays internal


def validate_input(data: DecisionInput, now: dt.datetime) -> None:
    """Checks that need nothing but the input itself."""
    if data.action not in ACTIONS:
        raise DecisionRefused(f"unknown action {data.action!r}", "measure")
    if not (data.reason or "").strip():
        raise DecisionRefused("理由を入力してください（reason is required）", "reason")
    if data.action in RESTRICTIVE_MEASURES and not data.clause_id and not data.exception_code:
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


REQUESTER_REASON_ACTIONS = ("no_action", "delay_other")


def check_requester_reason(data: DecisionInput, open_requests: int) -> None:
    """N2 must give the requester the reason, N3 under item iii what the reason is (§25):
    written for them, in a field of its own, not the moderator's note."""
    if data.action in REQUESTER_REASON_ACTIONS and open_requests and not (data.requester_reason or "").strip():
        raise DecisionRefused("申出者に伝える理由を入力してください（第25条。requester_reason is required when "
                              "requests are answered with no measure or an extension for another reason）",
                              "requester_reason")


def check_clause_applies(clause_id: str, measures: list, routes: list, action: str, case_routes: set) -> None:
    """A clause grounds only the measures it names, and only for the routes it covers (§26:
    criteria specific per route and per measure)."""
    if action not in (measures or []):
        raise DecisionRefused(f"条項 {clause_id} はこの措置（{action}）を定めていません"
                              f"（clause allows only {sorted(measures or [])}）", "clause_id", status=422)
    if case_routes and not case_routes & set(routes or []):
        raise DecisionRefused(f"条項 {clause_id} はこの案件の経路（{'、'.join(sorted(case_routes))}）に適用されません"
                              f"（clause covers routes {sorted(routes or [])}）", "clause_id", status=422)
