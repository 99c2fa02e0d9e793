"""The moderators' web view (Japanese first; English with ?lang=en)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import (Blueprint, current_app, flash, redirect, render_template, request, session as http_session,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError

from shared import clock
from shared.db import utcnow
from shared.web import json_error, wants_json
from services.decision import domain, duties, service
from services.decision import signin
from services.decision.auth import (CAN_ADMIN, CAN_DECIDE, CAN_READ_QUEUE, CAN_SEE_CONTACTS, SessionUser,
                                    require_role, sign_in_form)
from services.decision.domain import DecisionInput, DecisionRefused
from services.decision.models import (AuditEvent, Case, CaseReport, Clause, CriteriaVersion, Decision, PosterInquiry,
                                      PosterReply, User)

bp = Blueprint("web", __name__)
UNKNOWN_AUTHOR = "unknown"  # what intake's public form records when the post's author is not known


def _db():
    return current_app.config["RUNTIME"].db


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
    return redirect(url_for("web.queue_page"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        try:
            user = sign_in_form(request.form.get("email", ""), request.form.get("password", ""))
        except signin.Throttled as exc:
            message = _("サインインの失敗が続いたため、しばらく受け付けません。%(s)s 秒後にもう一度お試しください。",
                        s=exc.retry_after)
            response = current_app.make_response((render_template("login.html", error=message), 429))
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        if user is None:
            error = _("メールアドレスまたはパスワードが違います。")
        else:
            # A new session at each sign-in: nothing from the cookie before it carries over.
            http_session.clear()
            login_user(SessionUser(user, signin.open_web_session(_db(), user)))
            return redirect(signin.safe_next(request.args.get("next")) or url_for("web.queue_page"))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
@login_required
def logout():
    signin.revoke_web_session(_db(), current_user.session_token)  # ends it on the server too
    logout_user()
    http_session.clear()
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
    view = request.args.get("view") if request.args.get("view") in service.QUEUE_VIEWS else None
    with _db().sessions() as session:
        cases = service.queue(session, kind=kind, category=category, near_deadline=near, view=view,
                              claimed_by=int(current_user.id) if mine else None, limit=100, now=now)
        counts = service.cached_queue_counts(session, now)
    return render_template("queue.html", cases=cases, counts=counts, now=now, kind=kind, category=category,
                           near=near, mine=mine, view=view, categories=list(domain.SEVERITY),
                           is_near=lambda c: domain.is_near_deadline(c.next_deadline_at, now),
                           is_ready=lambda c: service.is_ready_to_decide(c, now))


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
        # The public form cannot always name the poster ("unknown"): such cases are not one person's.
        earlier = [] if case.author_id == UNKNOWN_AUTHOR else session.scalars(
            sa.select(Case).where(Case.author_id == case.author_id, Case.id != case.id)
            .order_by(Case.created_at.desc()).limit(20)).all()
        version, clauses = service.criteria_in_force(session, now)
        deciders = _deciders(session, decisions)
        inquiries = session.scalars(sa.select(PosterInquiry).where(PosterInquiry.case_id == case_id)
                                    .order_by(PosterInquiry.sent_at)).all()
        replies = session.scalars(sa.select(PosterReply).where(PosterReply.case_id == case_id)
                                  .order_by(PosterReply.received_at)).all()
    return render_template("case.html", case=case, reports=reports, decisions=decisions, history=history,
                           earlier=earlier, clauses=clauses, criteria_version=version, now=now,
                           deciders=deciders, inquiries=inquiries, replies=replies,
                           ready=service.is_ready_to_decide(case, now),
                           show_contacts=current_user.role in CAN_SEE_CONTACTS,
                           can_decide=current_user.role in CAN_DECIDE,
                           exception_codes=domain.EXCEPTION_CODES,
                           is_near=domain.is_near_deadline(case.next_deadline_at, now))


def _deciders(session, decisions) -> dict:
    """Pseudonym and role of whoever recorded each decision (moderators' names stay private)."""
    ids = {d.decided_by for d in decisions}
    users = session.scalars(sa.select(User).where(User.id.in_(ids))).all() if ids else []
    return {u.id: u.pseudonym for u in users}


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
        scope_items = [s.strip() for s in (form.get("scope_items") or "").replace("、", ",").split(",") if s.strip()]
        if not form.get("measure"):
            raise DecisionRefused(_("措置を選んでください。"), "measure")
        data = DecisionInput(
            action=form.get("measure", ""), reason=form.get("reason", ""), clause_id=form.get("clause_id") or None,
            exception_code=form.get("exception_code") or None, facts=form.get("facts") or None,
            requester_reason=form.get("requester_reason") or None,
            scope={"items": scope_items, "visibility": form.get("visibility") or None},
            suspension_until=_form_datetime(form.get("suspension_until")),
            suspension_permanent=form.get("suspension_permanent") == "1",
            expected_version=int(form["version"]) if (form.get("version") or "").isdigit() else None,
            override_claim=form.get("override_claim") == "1")
        service.record_decision(_db(), case_id, current_user.user, data)
    except DecisionRefused as exc:
        flash(exc.message, "error")
        return redirect(url_for("web.case_page", case_id=case_id))
    flash(_("決定を記録しました。"))
    return redirect(url_for("web.queue_page"))


@bp.get("/criteria")
def criteria_page():
    """Public page (§26): the version in force, an upcoming one with the day it takes effect, and
    past versions; ``?version=`` shows any published version's wording."""
    now = utcnow()
    with _db().sessions() as session:
        versions = service.criteria_versions(session, now)
        shown = versions["in_force"]
        wanted = request.args.get("version")
        if wanted:
            shown = session.get(CriteriaVersion, wanted)
            if shown is None or shown.status != "published":
                return render_template("error.html", message=_("その版は公表されていません。")), 404
        clauses = _clauses(session, shown.version) if shown else []
    return render_template("criteria.html", shown=shown, clauses=clauses, versions=versions, now=now,
                           in_force_from=service.in_force_from)


def _clauses(session, version: str) -> list[Clause]:
    return list(session.scalars(sa.select(Clause).where(Clause.version == version).order_by(Clause.clause_id)))


# The criteria administration pages (§26, admin only) register on this blueprint.
from services.decision import criteria_editor  # noqa: E402,F401
