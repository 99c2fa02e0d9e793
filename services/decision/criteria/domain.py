"""Pure rules of the deletion criteria (§26; no Flask, no Kafka, no database)."""
from __future__ import annotations

import datetime as dt

from shared import clock
from services.decision.decisions.domain import RESTRICTIVE_MEASURES
from services.decision.errors import DecisionRefused

# A bound for SQL pre-filters only; the §26 count itself is shared.clock.criteria_in_force_from.
CRITERIA_MIN_AGE = dt.timedelta(days=14)


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
    allowed = RESTRICTIVE_MEASURES
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


def criteria_in_force_since(published_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Published at least 14 whole JST calendar days before ``now`` (shared.clock owns the count)."""
    return published_at is not None and clock.criteria_in_force_from(published_at) <= now
