"""The notifier's rules, pure: which measures restrict a post, the texts a notice quotes (an
excerpt, the scope of a measure, a §26 exception), the order of a decision's requests, the
inquiry's reply window, and when two posts are the same content for §27(ii). No database."""
from __future__ import annotations

import difflib

from shared import clock
from shared.events import MEASURES
from shared.text import comparable
from services.notifier import config

MEASURES_TAKEN = tuple(m for m in MEASURES if m != "no_action")  # the measures that restrict a post

# §26 exceptions named in an N4 instead of a criteria clause.
EXCEPTION_TEXT = {
    "legal_duty": "法令上の義務に基づく措置",
    "urgent_unforeseen": "緊急かつ予見できなかった類型の情報に対する措置",
}


REVERSAL_TEXT = "異議申立ての内容を確認し、当初の措置を維持する理由がないと判断したため。"


def poster_facts(d: dict) -> str | None:
    """The reason an N4 gives the poster (§27): only the text written for the poster (``facts``).
    Left empty, a standard text names the published criteria clause (§26) or the exception
    relied on; the moderator's internal note (``reason``) is never a fallback."""
    facts = (d.get("facts") or "").strip()
    if facts:
        return facts
    clause = d.get("clause") or {}
    if clause.get("id"):
        title = f"「{clause['title']}」" if clause.get("title") else ""
        return f"公表している削除基準の{clause['id']}{title}に該当すると判断したため（第26条）。"
    if d.get("exception_code") in EXCEPTION_TEXT:
        return f"{EXCEPTION_TEXT[d['exception_code']]}として判断したため。"
    return None


def excerpt(text: str | None, limit: int = 60) -> str | None:
    text = " ".join((text or "").split())
    return (text[:limit] + "…" if len(text) > limit else text) or None


def deletion_requests_in_order(d: dict) -> list[dict]:
    """Originals before repeats, so a repeat can link to its earlier request's notice."""
    refs = [r for r in d.get("requests", []) if r.get("kind") == "deletion_request"]
    return sorted(refs, key=lambda r: (bool(r.get("is_repeat")), r["received_at"]))


def inquiry_request_type(refs: list[dict]) -> str:
    """The 2-day window only when every request allows it (the rule lives in shared.clock; the
    decision service applies the same one and carries the days in the event)."""
    return clock.inquiry_request_type((r.get("request_type"), r.get("right_infringed")) for r in refs)


def scope_text(scope: dict | None) -> str | None:
    if not scope:
        return None
    parts = []
    if scope.get("items"):
        parts.append("一部（" + "、".join(scope["items"]) + "）")
    if scope.get("visibility") == "japan_only":
        parts.append("日本国内からの閲覧のみ制限")
    return "／".join(parts) or None


def same_request_key(right_infringed: str | None) -> str:
    """Two requests by one person about one post are the same request (同一の内容, §25(1)
    proviso) when they claim the same right; intake judges it (``is_repeat``), the notifier
    only finds which earlier request a repeat links to."""
    return comparable(right_infringed)


def same_content(earlier: dict, post: dict) -> bool:
    """The same post, or a text that is the same or nearly so (MODQ_S27_SIMILARITY, 0.9)."""
    if earlier.get("post_id") and earlier.get("post_id") == post.get("id"):
        return True
    before, now = comparable(earlier.get("post_text")), comparable(post.get("text"))
    if not before or not now:
        return False
    return before == now or difflib.SequenceMatcher(None, before, now).ratio() >= config.similarity_threshold()
