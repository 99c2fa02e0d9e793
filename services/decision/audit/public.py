"""The §28 report as the public page ``/transparency``: no sign-in, because 第28条 requires the
operator to publish it. The page shows counts only (``render.publishable``); the figures by
period, the CSV, the JSON and the decision log stay behind the authenticated ``/v1`` API.

A report of a year is computed from every decision of the year: it is kept for a few minutes per
year, so that anyone's reloading costs one computation, not one per request."""
from __future__ import annotations

import datetime as dt
import threading
import time

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from shared import clock
from shared.db import utcnow
from shared.settings import public_url
from services.decision.audit import notice_figures, periods, render, transparency
from services.decision.pages import current_db

bp = Blueprint("transparency", __name__)
CACHE_SECONDS = 300
FIRST_YEAR = 2025  # the first fiscal year under the Act (in force 2025-04-01)
_cache: dict[tuple[object, int], tuple[float, str]] = {}
_lock = threading.Lock()


def _fiscal_year(day: dt.date) -> int:
    return periods.fiscal_year_of(day)[0].year


def _years(now: dt.datetime) -> list[int]:
    today = now.astimezone(clock.legal_zone()).date()
    return list(range(_fiscal_year(today), FIRST_YEAR - 1, -1))


def _page(year: int, links: dict) -> str:
    key = (current_db(), year)
    with _lock:
        cached = _cache.get(key)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
    start, end = periods.jst_midnight(dt.date(year, 4, 1)), periods.jst_midnight(dt.date(year + 1, 4, 1))
    with current_db().sessions() as session:
        report = transparency.generate(session, start, end, notice_stats=notice_figures.fetch(start, end))
    page = render.html(report, stylesheet_url=url_for("static", filename="transparency.css"), links=links)
    with _lock:
        _cache[key] = (time.monotonic(), page)
    return page


@bp.get("/transparency")
def transparency_page():
    now = utcnow()
    years = _years(now)
    default = periods.report_year(now.astimezone(clock.legal_zone()).date())[0].year
    wanted = request.args.get("year") or str(default)
    if not wanted.isdigit() or int(wanted) not in years:
        message = f"{FIRST_YEAR}年度から{years[0]}年度までの年度を選んでください。"
        return render_template("error.html", message=message), 404
    links = {"criteria": url_for("criteria.criteria_page"), "request": public_url("intake") + "/request",
             "years": {y: url_for("transparency.transparency_page", year=y) for y in years}, "year": int(wanted)}
    return _page(int(wanted), links)


def redirect_browsers_to_the_public_page():
    """``/v1/transparency`` opened in a browser without credentials: the public page, not a JSON 401."""
    if request.path != "/v1/transparency" or request.authorization or current_user.is_authenticated:
        return None
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) != "text/html":
        return None
    return redirect(url_for("transparency.transparency_page"), code=303)
