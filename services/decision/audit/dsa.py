"""Statements of reasons in the shape of the EU DSA Transparency Database (Art. 24(5)).

One statement per measure (remove, hide, account suspension). Statements hold no personal
data: no post text or URL, no account ids, no moderator pseudonym, and no free text written by
a moderator (it might name someone) — ``decision_facts`` is written from structured fields.
The ``puid`` is a keyed hash of the decision id, stable across exports and meaningless outside.

Measures restricted to viewers in Japan only (``scope.visibility = japan_only``) have no effect
in the EEA and produce no statement.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from shared import clock
from shared.settings import env
from services.decision.decisions.domain import RESTRICTIVE_MEASURES

EEA = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS", "IT", "LI",
       "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK")

VISIBILITY = {"remove": "DECISION_VISIBILITY_CONTENT_REMOVED", "hide": "DECISION_VISIBILITY_CONTENT_DISABLED"}

# Clause categories of the published criteria -> the database's statement categories.
CATEGORIES = {
    "defamation": "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "insult": "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "discrimination": "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "privacy": "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    "threat": "STATEMENT_CATEGORY_VIOLENCE",
    "sexual": "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
    "impersonation": "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "spam": "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
}
DEFAULT_CATEGORY = "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE"

MEDIA_TYPES = {"image": "CONTENT_TYPE_IMAGE", "video": "CONTENT_TYPE_VIDEO", "audio": "CONTENT_TYPE_AUDIO"}

MEASURE_JA = {"remove": "投稿を削除しました", "hide": "投稿を非表示にしました",
              "suspend_account": "アカウントを停止しました"}
ACT = "情報流通プラットフォーム対処法（平成13年法律第137号）"


def territorial_scope() -> list[str]:
    configured = env("MODQ_DSA_TERRITORIAL_SCOPE")
    return [c.strip().upper() for c in configured.split(",") if c.strip()] if configured else list(EEA)


def statement(record: dict, secret: str, clause_categories: dict[str, str] | None = None) -> dict | None:
    """The statement of reasons for one decision record, or None when it is not a measure in the EEA."""
    if record["measure"] not in RESTRICTIVE_MEASURES or (record["scope"] or {}).get("visibility") == "japan_only":
        return None
    category = (clause_categories or {}).get((record["clause"] or {}).get("id"))
    out = {
        "puid": puid(record["decision_id"], secret),
        **_restriction(record),
        **_ground(record),
        "category": CATEGORIES.get(category, DEFAULT_CATEGORY),
        "content_type": content_types(record["post"]),
        "content_date": _date(record["post"].get("posted_at")) or _date(record["decided_at"]),
        "application_date": _date(record["decided_at"]),
        "decision_facts": facts(record),
        "source_type": source_type(record),
        "automated_detection": "Yes" if record["route"] == "own_detection" and record["ai"]["assisted"] else "No",
        "automated_decision": ("AUTOMATED_DECISION_PARTIALLY" if record["ai"]["assisted"]
                               else "AUTOMATED_DECISION_NOT_AUTOMATED"),
        "territorial_scope": territorial_scope(),
    }
    return out


def puid(decision_id: str, secret: str) -> str:
    return "modq-" + hmac.new(secret.encode(), f"dsa-puid|{decision_id}".encode(), hashlib.sha256).hexdigest()[:40]


def _restriction(record: dict) -> dict:
    if record["measure"] == "suspend_account":
        until = record["suspension_until"]
        return {"decision_account": "DECISION_ACCOUNT_TERMINATED" if record["suspension_permanent"] or not until
                else "DECISION_ACCOUNT_SUSPENDED",
                "end_date_account_restriction": _date(until)}
    return {"decision_visibility": [VISIBILITY[record["measure"]]], "end_date_visibility_restriction": None}


def _ground(record: dict) -> dict:
    """A §22 request asserts that a right was infringed (illegal content); everything else
    was measured against the published criteria (incompatible with the terms)."""
    rights = sorted({published_right(r["right_infringed"]) for r in record["requests"] if r["right_infringed"]})
    if record["route"] == "request" or record["exception_code"] == "legal_duty":
        return {"decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
                "illegal_content_legal_ground": f"{ACT}に基づく権利侵害（{'、'.join(rights) or '権利侵害'}）",
                "illegal_content_explanation": _clause_text(record)}
    return {"decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
            "incompatible_content_ground": _clause_text(record),
            "incompatible_content_explanation": "公表済みの送信防止措置の実施に関する基準（§26）に該当する投稿",
            "incompatible_content_illegal": "No"}


# Rights a statement may name. A requester writes ``right_infringed`` (the form's その他 adds their
# own words, the API takes any text): only these fixed names reach a public statement.
PUBLISHED_RIGHTS = ("名誉権", "プライバシー", "プライバシー権", "肖像権", "著作権", "商標権", "営業権", "人格権")


def published_right(right: str) -> str:
    name = right.strip()
    return name if name in PUBLISHED_RIGHTS else "その他の権利"


def _clause_text(record: dict) -> str:
    clause = record["clause"]
    if clause:
        return f"削除基準 {clause['version']} 第{clause['id']}条項「{clause['title']}」"
    return f"例外コード {record['exception_code']}（§26 ただし書）"


def facts(record: dict) -> str:
    scope = record["scope"] or {}
    partial = "（投稿の一部）" if scope.get("items") else ""
    return f"{_clause_text(record)}に該当すると判断し、{MEASURE_JA[record['measure']]}{partial}。"


def content_types(post: dict) -> list[str]:
    kinds = [MEDIA_TYPES.get(kind, "CONTENT_TYPE_OTHER") for kind in post.get("media_types") or []]
    if post.get("has_text") or not kinds:
        kinds.insert(0, "CONTENT_TYPE_TEXT")
    return sorted(set(kinds))


def source_type(record: dict) -> str:
    if record["route"] == "own_detection":
        return "SOURCE_VOLUNTARY"
    if record["route"] == "request":
        return "SOURCE_ARTICLE_16"
    if record["trusted_flagger_notice"]:
        return "SOURCE_TRUSTED_FLAGGER"
    return "SOURCE_TYPE_OTHER_NOTIFICATION"


def _date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return clock.parse_instant(value).astimezone(clock.legal_zone()).date().isoformat()
    except ValueError:
        return value[:10] if len(value) >= 10 else None


FIELDS = (
    "puid", "decision_visibility", "end_date_visibility_restriction", "decision_account",
    "end_date_account_restriction", "decision_ground", "illegal_content_legal_ground", "illegal_content_explanation",
    "incompatible_content_ground", "incompatible_content_explanation", "incompatible_content_illegal", "category",
    "content_type", "content_date", "application_date", "decision_facts", "source_type", "automated_detection",
    "automated_decision", "territorial_scope",
)
