"""The 分類 a criteria clause may carry: first the classifier model's categories (one list, in
shared.categories), by which a case's scores point at the clauses that may apply; then the types
of information the criteria cover that the model does not score. Each with its Japanese name."""
from __future__ import annotations

from shared.categories import JAPANESE_NAMES, MODEL_CATEGORIES

MODEL = {c: JAPANESE_NAMES[c] for c in MODEL_CATEGORIES}
NOT_SCORED = {
    "impersonation": "なりすまし", "spam": "スパム・迷惑行為", "fraud": "詐欺", "copyright": "著作権侵害",
    "portrait": "肖像権侵害", "trademark": "商標権侵害", "csam": "児童ポルノ", "drugs": "違法薬物",
    "suicide": "自殺の誘引・勧誘", "suspension": "アカウント停止",
}
ALL = {**MODEL, **NOT_SCORED}


def category_name(category: str | None) -> str:
    return ALL.get(category or "", category or "")
