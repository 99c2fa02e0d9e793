"""The §28 report as CSV (one figure per row) and as a Japanese HTML page with SVG charts.
Rendered without a Flask app so the CLI produces the same files as the API."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.decision.audit import charts, transparency

BOM = "\ufeff"
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(("html",)))

LABELS = {
    "remove": "削除", "hide": "非表示", "suspend_account": "アカウント停止", "no_action": "措置なし",
    "request": "削除申出", "report": "利用者の通報", "own_detection": "自主検知",
    "s25_1": "§25(1)（7日以内）", "s25_2": "§25(2)（延長後）", "i": "(i) 発信者への意見照会",
    "ii": "(ii) 専門員による調査", "iii": "(iii) その他やむを得ない理由", "temporary": "期間あり", "permanent": "無期限",
    "ordinary": "通常", "election": "選挙運動（§4）", "av_performer": "AV出演者（AV法§16）", "unspecified": "不明",
    "repeat_request_s25_1_proviso": "同一申出者による同一の申出（§25(1)ただし書）",
}
MONTHLY_LABELS = {"requests": "削除申出", "user_reports": "通報", "own_detection": "自主検知", "measures": "措置",
                  "no_action": "措置なし", "interim_steps": "延長手続", "reversals": "取消し"}


def label(value) -> str:
    return LABELS.get(str(value), str(value))


_env.filters["label"] = label


def csv_text(report: dict, bom: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["項目", "値"])
    for path, value in transparency.flatten(report):
        writer.writerow([path, "" if value is None else value])
    return (BOM if bom else "") + buffer.getvalue()


def html(report: dict) -> str:
    ttd = report["time_to_decision"]["histogram"]
    monthly = report["monthly"]
    ttd_chart = charts.bar_chart("判断までの時間の分布（件数）", [b["bucket"] for b in ttd],
                                 {"最終決定": [b["count"] for b in ttd]})
    monthly_chart = charts.bar_chart("月別の件数", [m["month"][2:] for m in monthly],
                                     {MONTHLY_LABELS[k]: [m[k] for m in monthly]
                                      for k in ("requests", "user_reports", "measures", "reversals")})
    return _env.get_template("audit/transparency.html").render(
        report=report, ttd_chart=ttd_chart, monthly_chart=monthly_chart, monthly_labels=MONTHLY_LABELS)
