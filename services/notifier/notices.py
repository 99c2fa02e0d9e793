"""Notice content: what each notice must contain (law.md, "Notices, in short"), and its
rendering from reviewed Jinja templates (Japanese, English alongside for English locales).

A notice missing required content is never sent: it is held and an alert is raised.
"""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

LEGAL_BASIS = {
    "ACK": "第22条第3号",
    "N1": "第25条第1項第1号",
    "N2": "第25条第1項第2号",
    "N3": "第25条第2項",
    "N4": "第27条",
    "INQ": "第3条第2項第2号",
    "REV": "第27条",  # the poster is told that a measure was lifted (law.md edge case 7: a new notice, never an edit)
    "REVR": "第25条第1項",  # the requester is told that the measure taken on their request was lifted
}

MEASURE_JA = {"remove": "削除", "hide": "非表示（閲覧制限）", "suspend_account": "アカウントの停止",
              "no_action": "措置なし"}
MEASURE_EN = {"remove": "removal", "hide": "restricted visibility", "suspend_account": "account suspension",
              "no_action": "no action"}
DELAY_ITEM_JA = {"i": "発信者に意見を照会するため（第25条第2項第1号）",
                 "ii": "侵害情報調査専門員が調査するため（第25条第2項第2号）",
                 "iii": "その他やむを得ない理由があるため（第25条第2項第3号）"}
DELAY_ITEM_EN = {"i": "we are asking the poster for their opinion", "ii": "a specialist investigator is reviewing it",
                 "iii": "of another unavoidable reason"}

_env = Environment(loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
                   undefined=StrictUndefined, autoescape=select_autoescape(default=False),
                   trim_blocks=True, lstrip_blocks=True)


# Content a template shows only when it applies (absent in notices issued before it existed).
OPTIONAL_FIELDS = {"is_repeat": False, "earlier_request_id": None, "basis": "request", "reply_by_text": None,
                   "appeal_until_text": None, "post_excerpt": None, "measure_lifted": None}


class MissingContent(ValueError):
    """Required content is absent; the notice is held."""


def missing_fields(notice_type: str, f: dict) -> list[str]:
    missing = []

    def need(key: str, value) -> None:
        if value in (None, "", [], {}):
            missing.append(key)

    if notice_type in ("ACK", "N1", "N2", "N3"):
        need("request_id", f.get("request_id"))
    if notice_type == "ACK":
        need("received_at", f.get("received_at"))
    if notice_type == "N1":
        need("measure", f.get("measure"))
        need("decided_at", f.get("decided_at"))
    if notice_type == "N2":
        need("reason", f.get("reason"))
    if notice_type == "N3":
        need("delay_item", f.get("delay_item"))
        if f.get("delay_item") == "iii":
            need("delay_reason", f.get("delay_reason"))
    if notice_type == "N4":
        need("measure", f.get("measure"))
        need("post_id", f.get("post_id"))
        need("facts", f.get("facts"))
        clause = f.get("clause") or {}
        if not f.get("exception_code"):
            for key in ("id", "version", "text"):
                need(f"clause.{key}", clause.get(key))
    if notice_type in ("REV", "REVR"):
        for key in ("post_url", "reason"):
            need(key, f.get(key))
    if notice_type == "REVR":
        need("request_id", f.get("request_id"))
    if notice_type == "N4":
        need("appeal_url", f.get("appeal_url"))
    if notice_type == "INQ":
        for key in ("post_url", "post_text", "reason", "reply_days", "reply_channel"):
            need(key, f.get(key))
        if f.get("basis", "request") == "request":  # the right claimed exists only where someone asked
            need("right_infringed", f.get("right_infringed"))
    return missing


def render(notice_type: str, fields: dict, locale: str = "ja") -> tuple[str, str | None]:
    """Japanese text always; English alongside when the recipient's locale is English."""
    missing = missing_fields(notice_type, fields)
    if missing:
        raise MissingContent(", ".join(missing))
    context = {**OPTIONAL_FIELDS, **fields, "MEASURE_JA": MEASURE_JA, "MEASURE_EN": MEASURE_EN,
               "DELAY_ITEM_JA": DELAY_ITEM_JA, "DELAY_ITEM_EN": DELAY_ITEM_EN}
    ja = _env.get_template(f"{notice_type}.ja.j2").render(**context).strip()
    en = _env.get_template(f"{notice_type}.en.j2").render(**context).strip() if locale == "en" else None
    return ja, en
