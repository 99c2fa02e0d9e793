"""Notifier settings read from the environment. The legal periods themselves live in
shared.clock; these are operating choices (see services/notifier/README.md)."""
from __future__ import annotations

import datetime as dt

from shared.settings import DEV_NOTIFIER_API_TOKEN, env, env_float, env_int, secret

# Development-only token (MODQ_DEV_MODE=1). Production sets MODQ_NOTIFIER_API_TOKENS from a secret store.
DEV_API_TOKEN = DEV_NOTIFIER_API_TOKEN


def similar_notice_days() -> int:
    """§27(ii): a poster told within this many days about a measure under the same clause
    needs no second notice for the same kind of measure. 0 turns the exception off."""
    return env_int("MODQ_S27_SIMILAR_DAYS", 30)


def similarity_threshold() -> float:
    """§27(ii): how alike two posts' texts must be (0–1, after normalising width and spaces)
    to count as 同様の情報."""
    return env_float("MODQ_S27_SIMILARITY", 0.9)


def unknown_poster_ids() -> set[str]:
    """Poster ids that stand for "not known yet" (the public form's cases) and never for one
    person: no §27(ii) exception is drawn from them."""
    return {p.strip() for p in env("MODQ_UNKNOWN_POSTER_IDS", "unknown").split(",") if p.strip()}


def appeal_url() -> str:
    """Where a poster objects to a measure (the SNS's appeal form), named in every N4."""
    return env("MODQ_APPEAL_URL", "https://sns.example.jp/appeals")


def appeal_days() -> int:
    """How long a poster may object after an N4 (DSA Art. 20: at least six months)."""
    return env_int("MODQ_APPEAL_DAYS", 183)


def inquiry_reply_channel() -> str:
    """How a poster answers an opinion inquiry (named in every INQ)."""
    return env("MODQ_INQUIRY_REPLY_CHANNEL", "このお知らせの「回答する」ボタン、または https://sns.example.jp/inquiries")


def max_delivery_failures() -> int:
    """After this many `failed` receipts a notice is not re-published again; an alert asks a
    person to act."""
    return env_int("MODQ_NOTICE_MAX_FAILURES", 5)


def retry_delay(failures: int) -> dt.timedelta:
    """Exponential backoff before re-publishing a failed notice: base, 2×base, 4×base … capped."""
    base = env_float("MODQ_NOTICE_RETRY_BASE_SECONDS", 60.0)
    cap = env_float("MODQ_NOTICE_RETRY_MAX_SECONDS", 3600.0)
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, failures - 1)))


def api_tokens() -> set[str]:
    raw = secret("MODQ_NOTIFIER_API_TOKENS")
    return {t.strip() for t in raw.split(",") if t.strip()}
