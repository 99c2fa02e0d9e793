"""Words the web view shows for the service's codes: categories, audit entries, a requester's
standing, and refusals in Japanese only (the JSON API keeps the English in parentheses)."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

# The classifier's labels (services/classifier/inference.py CATEGORIES) in the words moderators use.
CATEGORY_LABELS = {
    "threat": _l("脅迫・暴力予告"),
    "privacy": _l("プライバシー侵害"),
    "sexual": _l("性的な内容"),
    "defamation": _l("名誉毀損"),
    "discrimination": _l("差別的表現"),
    "insult": _l("侮辱"),
    "none": _l("該当なし"),
}

AUDIT_LABELS = {
    "report.received": _l("通報・申出を受付"),
    "report.scored": _l("分類器が採点"),
    "case.claimed": _l("担当を開始"),
    "case.released": _l("担当を解除"),
    "case.claim_overridden": _l("担当を引き継いで決定"),
    "case.evidence_from_sns": _l("SNS から投稿の記録が到着"),
    "case.assigned": _l("担当者を割り当て"),
    "case.assignment_ended": _l("割り当てを終了（決定済み・再開）"),
    "case.note_added": _l("内部メモを追加"),
    "decision.remove": _l("決定: 削除"),
    "decision.hide": _l("決定: 非表示・閲覧制限"),
    "decision.suspend_account": _l("決定: アカウント停止"),
    "decision.no_action": _l("決定: 措置なし"),
    "decision.poster_inquiry": _l("発信者へ意見照会"),
    "decision.refer_specialist": _l("専門員の調査へ"),
    "decision.delay_other": _l("延長（その他の理由）"),
    "decision.reversal": _l("措置の取消し"),
    "decision.bulk": _l("まとめて対応の一件として決定"),
    "inquiry.delivered": _l("意見照会が発信者に到達"),
    "poster.reply": _l("発信者が回答"),
    "poster.late_objection": _l("発信者が期限後に異議"),
    "alert.notice_held": _l("通知が保留されました"),
    "alert.notice_undeliverable": _l("通知を届けられませんでした"),
    "appeal.submitted": _l("異議申立てを受付"),
    "appeal.refused": _l("異議申立てを却下"),
    "legal_hold.placed": _l("証拠の保全を開始"),
    "legal_hold.lifted": _l("証拠の保全を解除"),
    "retention.post_removed": _l("保存期間の満了により投稿内容を消去"),
    "retention.requester_data_removed": _l("保存期間の満了により申出者の情報を消去"),
}

ACTOR_LABELS = {"system:intake": _l("受付"), "system:classifier": _l("分類器"), "system:notifier": _l("通知"),
                "system:sns": "SNS", "system:retention": _l("保存期間管理")}


def category_label(key: str | None) -> str:
    if not key:
        return "—"
    return str(CATEGORY_LABELS.get(key, key))


def audit_label(event_type: str) -> str:
    return str(AUDIT_LABELS.get(event_type, event_type))


def actor_label(actor: str) -> str:
    return str(ACTOR_LABELS.get(actor, actor))


def requester_standing(reporter: dict | None) -> str:
    """本人 / 代理人 (with the authority shown apart) / 第三者, from what intake recorded."""
    reporter = reporter or {}
    if reporter.get("is_rights_holder"):
        return str(_l("本人"))
    if (reporter.get("agent_authority") or "").strip():
        return str(_l("代理人"))
    return str(_l("第三者（権利者ではない）"))


# A refusal reads "日本語の説明（English detail）": the web view shows the Japanese part only.
_TRAILING_ENGLISH = re.compile(r"（[^（）]*[A-Za-z][^（）]*）\s*$")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_SECTION = re.compile(r"§(\d+)(?:\((\d+)\))?")
FIELD_FALLBACK = {
    "measure": _l("措置の指定が正しくありません。"),
    "exception_code": _l("例外コードの指定が正しくありません。"),
    "scope": _l("措置の対象の指定が正しくありません。"),
    "delay_item": _l("延長の理由の指定が正しくありません。"),
    None: _l("この決定は記録できません。入力内容を確認してください。"),
}


def _section_ja(match: re.Match) -> str:
    article, paragraph = match.group(1), match.group(2)
    return f"第{article}条" + (f"第{paragraph}項" if paragraph else "")


def japanese_message(message: str, field: str | None = None) -> str:
    """The Japanese part of a refusal, with sections cited the Japanese way (第26条); a refusal
    that has no Japanese at all becomes a plain Japanese sentence about the field at fault."""
    text = _TRAILING_ENGLISH.sub("", message or "").strip()
    if not _JAPANESE.search(text):
        return str(FIELD_FALLBACK.get(field, FIELD_FALLBACK[None]))
    return _SECTION.sub(_section_ja, text)
