"""The moderators' web view (Japanese first; English with ?lang=en)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import (Blueprint, current_app, flash, redirect, render_template, request, session as http_session,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from shared import clock
from shared.db import utcnow
from services.decision import domain, service
from services.decision.auth import (CAN_DECIDE, CAN_READ_QUEUE, CAN_SEE_CONTACTS, SessionUser, check_password,
                                    require_role)
from services.decision.domain import DecisionInput, DecisionRefused
from services.decision.models import AuditEvent, Case, CaseReport, Decision

bp = Blueprint("web", __name__)


def _db():
    return current_app.config["RUNTIME"].db


@bp.app_template_filter("jst")
def jst_filter(value):
    if value is None:
        return "—"
    return value.astimezone(clock.legal_zone()).strftime("%Y-%m-%d %H:%M")


@bp.get("/")
def index():
    return redirect(url_for("web.queue_page"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        user = check_password(request.form.get("email", ""), request.form.get("password", ""))
        if user is None:
            error = _("メールアドレスまたはパスワードが違います。")
        else:
            login_user(SessionUser(user))
            target = request.args.get("next") or ""
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("web.queue_page")
            return redirect(target)
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("web.login"))


@bp.get("/queue")
@require_role(CAN_READ_QUEUE)
def queue_page():
    now = utcnow()
    kind = request.args.get("kind") or None
    kind = kind if kind in ("report", "deletion_request") else None
    category = request.args.get("category") or None
    near = request.args.get("near_deadline") == "1"
    mine = request.args.get("mine") == "1"
    with _db().sessions() as session:
        cases = service.queue(session, kind=kind, category=category, near_deadline=near,
                              claimed_by=int(current_user.id) if mine else None, limit=100, now=now)
        counts = service.queue_counts(session, now)
    return render_template("queue.html", cases=cases, counts=counts, now=now, kind=kind, category=category,
                           near=near, mine=mine, categories=list(domain.SEVERITY),
                           is_near=lambda c: domain.is_near_deadline(c.next_deadline_at, now))


@bp.get("/queue/next")
@require_role(CAN_DECIDE)
def next_case():
    with _db().sessions() as session:
        now = utcnow()
        for case in service.queue(session, limit=20, now=now):
            if case.claimed_by in (None, int(current_user.id)) or (case.claim_expires_at and case.claim_expires_at < now):
                return redirect(url_for("web.case_page", case_id=case.id))
    flash(_("対応待ちの案件はありません。"))
    return redirect(url_for("web.queue_page"))


@bp.get("/cases/<case_id>")
@require_role(CAN_READ_QUEUE)
def case_page(case_id):
    now = utcnow()
    with _db().sessions() as session:
        case = session.get(Case, case_id)
        if case is None:
            return render_template("error.html", message=_("案件が見つかりません。")), 404
        reports = session.scalars(sa.select(CaseReport).where(CaseReport.case_id == case_id)
                                  .order_by(CaseReport.received_at)).all()
        decisions = session.scalars(sa.select(Decision).where(Decision.case_id == case_id)
                                    .order_by(Decision.decided_at)).all()
        history = session.scalars(sa.select(AuditEvent).where(AuditEvent.case_id == case_id)
                                  .order_by(AuditEvent.seq)).all()
        earlier = session.scalars(sa.select(Case).where(Case.author_id == case.author_id, Case.id != case.id)
                                  .order_by(Case.created_at.desc()).limit(20)).all()
        version, clauses = service.criteria_in_force(session, now)
    return render_template("case.html", case=case, reports=reports, decisions=decisions, history=history,
                           earlier=earlier, clauses=clauses, criteria_version=version, now=now,
                           show_contacts=current_user.role in CAN_SEE_CONTACTS,
                           can_decide=current_user.role in CAN_DECIDE,
                           exception_codes=domain.EXCEPTION_CODES,
                           is_near=domain.is_near_deadline(case.next_deadline_at, now))


@bp.post("/cases/<case_id>/claim")
@require_role(CAN_DECIDE)
def claim(case_id):
    try:
        service.claim_case(_db(), case_id, current_user.user)
        flash(_("案件を担当しました（15分間）。"))
    except DecisionRefused as exc:
        flash(exc.message, "error")
    return redirect(url_for("web.case_page", case_id=case_id))


@bp.post("/cases/<case_id>/release")
@require_role(CAN_DECIDE)
def release(case_id):
    service.release_case(_db(), case_id, current_user.user)
    return redirect(url_for("web.queue_page"))


def _form_datetime(value: str | None):
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise DecisionRefused("日時の形式が正しくありません（invalid date-time）", "suspension_until") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=clock.legal_zone())
    return parsed.astimezone(dt.timezone.utc)


@bp.post("/cases/<case_id>/decide")
@require_role(CAN_DECIDE)
def decide(case_id):
    form = request.form
    try:
        scope_items = [s.strip() for s in (form.get("scope_items") or "").split(",") if s.strip()]
        data = DecisionInput(
            action=form.get("measure", ""), reason=form.get("reason", ""), clause_id=form.get("clause_id") or None,
            exception_code=form.get("exception_code") or None, facts=form.get("facts") or None,
            scope={"whole_post": not scope_items, "items": scope_items,
                   "visibility": form.get("visibility") or None},
            suspension_until=_form_datetime(form.get("suspension_until")),
            suspension_permanent=form.get("suspension_permanent") == "1",
            expected_version=int(form["version"]) if (form.get("version") or "").isdigit() else None)
        service.record_decision(_db(), case_id, current_user.user, data)
    except DecisionRefused as exc:
        flash(exc.message, "error")
        return redirect(url_for("web.case_page", case_id=case_id))
    flash(_("決定を記録しました。"))
    return redirect(url_for("web.queue_page"))


@bp.get("/criteria")
def criteria_page():
    """Public page: the criteria in force and past versions (§26)."""
    from services.decision.models import Clause, CriteriaVersion

    with _db().sessions() as session:
        version, clauses = service.criteria_in_force(session, utcnow())
        versions = session.scalars(sa.select(CriteriaVersion).where(CriteriaVersion.status == "published")
                                   .order_by(CriteriaVersion.published_at.desc())).all()
    return render_template("criteria.html", version=version, clauses=clauses, versions=versions)
