"""The abuse categories the classifier's model scores, and their Japanese names.

One list for every service: the classifier's label set (``services/classifier/inference.py``
reads it from here), the category keys of ``report.scored`` events, and the 分類 a criteria clause
may be matched to. A model whose ``id2label`` lacks one of them is refused at load time.
"""
from __future__ import annotations

MODEL_CATEGORIES = ("insult", "threat", "privacy", "defamation", "discrimination", "sexual")
NONE_LABEL = "none"

JAPANESE_NAMES = {
    "insult": "侮辱",
    "threat": "脅迫・危害の予告",
    "privacy": "プライバシー侵害",
    "defamation": "名誉毀損",
    "discrimination": "差別的言動",
    "sexual": "性的な投稿",
    NONE_LABEL: "該当なし",
}


def japanese_name(category: str | None) -> str:
    """The Japanese name of a model category; anything else as given."""
    return JAPANESE_NAMES.get(category or "", category or "")
