"""The §28 report as CSV (one figure per row) and as a Japanese HTML page with SVG charts.
Rendered without a Flask app so the CLI produces the same files as the API."""
from __future__ import annotations

import copy
import csv
import io
from collections import Counter
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.categories import JAPANESE_NAMES
from services.decision.audit import charts, dsa, transparency

BOM = "\ufeff"
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(("html",)))

LABELS = {
    "remove": "削除", "hide": "非表示", "suspend_account": "アカウント停止", "no_action": "措置なし",
    "request": "削除申出", "report": "利用者の通報", "own_detection": "自主検知",
    "s25_1": "第25条第1項（7日以内）", "s25_2": "第25条第2項（延長後）", "i": "第1号 発信者への意見照会",
    "ii": "第2号 侵害情報調査専門員による調査", "iii": "第3号 その他やむを得ない理由", "temporary": "期間あり",
    "permanent": "無期限", "ordinary": "通常", "election": "選挙運動期間中の候補者等からの申出（第4条）",
    "av_performer": "性行為映像制作物の出演者からの申出", "unspecified": "不明",
    "person": "個人・代理人", "public_body": "公的機関", "court": "裁判所",
    "repeat_request_s25_1_proviso": "同一申出者による同一の申出（第25条第1項ただし書）",
    "repeat_request": "同一申出者による同一の申出（第25条第1項ただし書）",
    "own_post": "事業者自らの投稿（第27条ただし書第1号）",
    "already_notified_similar": "同種の措置を既に通知済み（第27条ただし書第2号）",
    "poster_unreachable": "発信者に連絡する手段がない（第27条ただし書第3号）",
    "poster_account_deleted": "発信者のアカウントが削除済み（第27条ただし書第3号）",
    "recipient_unreachable": "連絡先に届かなかった",
    "exception:own_post": "事業者自らの投稿（第26条ただし書）", "exception:legal_duty": "法令上の義務（第26条ただし書）",
    "exception:urgent_unforeseen": "緊急かつ予見できなかった類型（第26条ただし書）",
    "p50": "中央値", "p75": "75パーセンタイル", "p90": "90パーセンタイル", "p95": "95パーセンタイル",
    "p99": "99パーセンタイル", **JAPANESE_NAMES,
}
MONTHLY_LABELS = {"requests": "削除申出", "user_reports": "通報", "own_detection": "自主検知", "measures": "措置",
                  "no_action": "措置なし", "interim_steps": "延長手続", "reversals": "取消し"}
STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "transparency.css"


def label(value) -> str:
    return LABELS.get(str(value), str(value))


_env.filters["label"] = label


def publishable(report: dict) -> dict:
    """The report as the public reads it: counts only. Words written by requesters (the right
    they named under その他) or moderators (the reasons of item iii) may name someone, so they are
    counted, never quoted: a right outside the published list shows as その他."""
    public = copy.deepcopy(report)
    rights: Counter = Counter()
    for right, count in (public["requests"].get("by_right_infringed") or {}).items():
        rights[right if right in dsa.PUBLISHED_RIGHTS else "その他"] += count
    public["requests"]["by_right_infringed"] = dict(sorted(rights.items()))
    extensions = public["s25_2_extensions"]
    extensions["other_reasons_iii"] = {}
    extensions["other_reasons_iii_count"] = (extensions.get("by_item") or {}).get("iii", 0)
    return public


def csv_text(report: dict, bom: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["項目", "値"])
    for path, value in transparency.flatten(report):
        writer.writerow([path, "" if value is None else value])
    return (BOM if bom else "") + buffer.getvalue()


def html(report: dict, *, stylesheet_url: str | None = None, links: dict | None = None) -> str:
    """The report as a Japanese page for the public (``publishable``), with its charts. With
    ``stylesheet_url`` the page links its style sheet (served pages, under the CSP); without it the
    style is written into the page (a file from the CLI)."""
    public = publishable(report)
    ttd = public["time_to_decision"]["histogram"]
    monthly = public["monthly"]
    ttd_chart = charts.bar_chart("判断までの時間の分布（件数）", [b["bucket"] for b in ttd],
                                 {"最終決定": [b["count"] for b in ttd]})
    monthly_chart = charts.bar_chart("月別の件数", [m["month"][2:] for m in monthly],
                                     {MONTHLY_LABELS[k]: [m[k] for m in monthly]
                                      for k in ("requests", "user_reports", "measures", "reversals")})
    inline_style = None if stylesheet_url else STYLESHEET.read_text(encoding="utf-8")
    return _env.get_template("audit/transparency.html").render(
        report=public, ttd_chart=ttd_chart, monthly_chart=monthly_chart, monthly_labels=MONTHLY_LABELS,
        stylesheet_url=stylesheet_url, inline_style=inline_style, links=links or {})
