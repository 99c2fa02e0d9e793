"""What every page of the web view shares: the blueprint's template filters and globals
(JST times, labels), the error pages, and the database of the running app."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_smorest import abort
from flask_wtf.csrf import CSRFError

from shared import clock
from shared.db import Database
from shared.web import json_error, wants_json
from services.decision import labels
from services.decision.errors import DecisionRefused

bp = Blueprint("web", __name__)
bp.add_app_template_global(labels.category_label, "category_label")
bp.add_app_template_global(labels.requester_standing, "standing")
bp.add_app_template_global(tuple(labels.CATEGORY_LABELS), "category_names")


def current_db() -> Database:
    """The database of the app handling this request."""
    return current_app.config["RUNTIME"].db


def refused(exc: DecisionRefused):
    """The JSON API's answer to a refused use case: its status, with the field at fault."""
    abort(exc.status, message=exc.message, errors={"json": {exc.field: [exc.message]}} if exc.field else None)


@bp.app_template_filter("jst")
def jst_filter(value):
    if value is None:
        return "—"
    return value.astimezone(clock.legal_zone()).strftime("%Y-%m-%d %H:%M")


@bp.app_template_global()
def stage_label(stage: str | None) -> str:
    labels = {"poster_inquiry": _("意見照会中"), "refer_specialist": _("専門員の調査中"),
              "delay_other": _("延長中"), "open": _("未対応"), "decided": _("決定済み")}
    return labels.get(stage or "", stage or "")


@bp.app_template_global()
def action_label(action: str | None) -> str:
    labels = {"remove": _("削除"), "hide": _("非表示・閲覧制限"), "suspend_account": _("アカウント停止"),
              "no_action": _("措置なし"), "poster_inquiry": _("発信者へ意見照会"),
              "refer_specialist": _("専門員の調査へ"), "delay_other": _("延長")}
    return labels.get(action or "", action or "")


@bp.app_template_filter("route_label")
def route_label(route: str) -> str:
    labels = {"request": _("削除申出"), "report": _("利用者からの通報"), "own_detection": _("事業者による検知")}
    return labels.get(route, route)


@bp.app_errorhandler(CSRFError)
def csrf_refused(exc):
    if wants_json():
        return json_error(400, f"CSRF check failed: {exc.description}")
    message = _("フォームの確認用トークンがないか期限切れです。ページを再読み込みしてからもう一度送信してください。")
    return render_template("error.html", message=message), 400


@bp.app_errorhandler(403)
def forbidden(exc):
    if wants_json():
        data = getattr(exc, "data", None) or {}
        return json_error(403, data.get("message") or "forbidden")
    return render_template("error.html", message=_("この操作を行う権限がありません。")), 403


@bp.app_template_filter("jst_iso")
def jst_iso_filter(value):
    """An ISO 8601 string from the SNS (e.g. a post's posted_at), shown in JST; as given if unreadable."""
    try:
        return jst_filter(clock.parse_instant(value))
    except (TypeError, ValueError, AttributeError):
        return value or "—"


@bp.get("/")
def index():
    return redirect(url_for("cases.queue_page"))
