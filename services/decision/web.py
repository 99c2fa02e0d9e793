"""The moderators' web view (Japanese first; English with ?lang=en)."""
from __future__ import annotations


import sqlalchemy as sa
from flask import (Blueprint, current_app, flash, redirect, render_template, request, session as http_session,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError

from shared import clock
from shared.db import utcnow
from shared.web import json_error, wants_json
from services.decision import case_view, casework, decision_form, domain, duties, labels, queue_view, service
from services.decision import signin
from services.decision.auth import (CAN_ADMIN, CAN_DECIDE, CAN_READ_QUEUE, CAN_SEE_CONTACTS, SessionUser,
                                    require_role, sign_in_form)
from services.decision.domain import DecisionRefused
from services.decision.models import Case, CaseReport, Clause, CriteriaVersion

bp = Blueprint("web", __name__)


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


bp.add_app_template_global(labels.category_label, "category_label")
bp.add_app_template_global(labels.requester_standing, "standing")
bp.add_app_template_global(tuple(labels.CATEGORY_LABELS), "category_names")


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
    args = request.args
    kind = args.get("kind") if args.get("kind") in ("report", "deletion_request") else None
    category, near, mine = args.get("category") or None, args.get("near_deadline") == "1", args.get("mine") == "1"
    view = args.get("view") if args.get("view") in service.QUEUE_VIEWS else None
    with _db().sessions() as session:
        cases = service.queue(session, kind=kind, category=category, near_deadline=near, view=view,
                              claimed_by=int(current_user.id) if mine else None, limit=100, now=now,
                              where=queue_view.queue_conditions(args, now, int(current_user.id)))
        counts = service.cached_queue_counts(session, now)
        assigned = casework.assignments(session, [c.id for c in cases])
        holders = queue_view.holders(session, cases, assigned)
        saved = casework.saved_filters(session, int(current_user.id))
    return render_template("queue.html", cases=cases, counts=counts, now=now, kind=kind, category=category,
                           near=near, mine=mine, view=view, q=args.get("q", ""), waiting=args.get("waiting") == "1",
                           categories=list(domain.SEVERITY), holders=holders, saved=saved, assigned=assigned,
                           assigned_me=args.get("assigned") == "me",
                           filter_query=casework.filter_query(args), qv=queue_view,
                           is_near=lambda c: domain.is_near_deadline(c.next_deadline_at, now),
                           is_ready=lambda c: service.is_ready_to_decide(c, now))


def _next_case_id(now) -> str | None:
    """The first case in queue order nobody else holds or was given (cases waiting on the
    poster are not in the queue's default order, so ``n`` never hands them out); the cases given
    to this moderator come first."""
    me = int(current_user.id)
    with _db().sessions() as session:
        for where in ((casework.assigned_to(me),), ()):
            cases = service.queue(session, limit=20, now=now, where=queue_view.queue_conditions({}, now) + where)
            assigned = casework.assignments(session, [c.id for c in cases])
            for case in cases:
                free = case.claimed_by in (None, me) or (case.claim_expires_at and case.claim_expires_at < now)
                if free and assigned.get(case.id, me) == me:
                    return case.id
    return None


@bp.get("/queue/next")
@require_role(CAN_DECIDE)
def next_case():
    case_id = _next_case_id(utcnow())
    if case_id:
        return redirect(url_for("web.case_page", case_id=case_id))
    flash(_("対応待ちの案件はありません。"))
    return redirect(url_for("web.queue_page"))


def _render_case(case_id, *, form=None, error=None, status=200):
    now = utcnow()
    with _db().sessions() as session:
        case = session.get(Case, case_id)
        if case is None:
            return render_template("error.html", message=_("案件が見つかりません。")), 404
        context = case_view.case_context(session, case, int(current_user.id), now)
    return render_template("case.html", **context, form=decision_form.kept_values(form), error=error,
                           show_contacts=current_user.role in CAN_SEE_CONTACTS,
                           can_decide=current_user.role in CAN_DECIDE, df=decision_form), status


@bp.get("/cases/<case_id>")
@require_role(CAN_READ_QUEUE)
def case_page(case_id):
    return _render_case(case_id)


@bp.post("/cases/<case_id>/claim")
@require_role(CAN_DECIDE)
def claim(case_id):
    try:
        service.claim_case(_db(), case_id, current_user.user)
        flash(_("案件を担当しました（15分間）。"))
    except DecisionRefused as exc:
        flash(labels.japanese_message(exc.message, exc.field), "error")
    return redirect(url_for("web.case_page", case_id=case_id))


@bp.post("/cases/<case_id>/release")
@require_role(CAN_DECIDE)
def release(case_id):
    service.release_case(_db(), case_id, current_user.user)
    flash(_("担当を解除しました。"))
    return redirect(url_for("web.queue_page"))


@bp.post("/cases/<case_id>/decide")
@require_role(CAN_DECIDE)
def decide(case_id):
    """A refused decision gives the page back with every input as typed and the reason in
    Japanese; a recorded one says which notices it sets off, then goes to the queue or, with
    「記録して次へ」, to the next case."""
    try:
        decision = service.record_decision(_db(), case_id, current_user.user, decision_form.decision_input(request.form))
    except DecisionRefused as exc:
        status = exc.status if exc.status in (400, 403, 404, 409, 422) else 400
        return _render_case(case_id, form=request.form, status=status,
                            error={"message": labels.japanese_message(exc.message, exc.field), "field": exc.field})
    with _db().sessions() as session:
        case = session.get(Case, case_id)
        reports = session.scalars(sa.select(CaseReport).where(CaseReport.case_id == case_id)).all()
        notices = decision_form.notice_summary(decision, reports)
        # the summary rides in the session cookie: a case with many requests is summed up
        flash({"case_id": case_id, "action": decision.action, "post": ((case.post or {}).get("text") or "")[:60],
               "notices": notices[:8], "more": max(0, len(notices) - 8)}, "decided")
    next_id = _next_case_id(utcnow()) if request.form.get("then") == "next" else None
    if next_id:
        return redirect(url_for("web.case_page", case_id=next_id))
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


# --- criteria administration (§26), admin only ------------------------------------------

@bp.get("/admin/criteria")
@require_role(CAN_ADMIN)
def criteria_admin():
    with _db().sessions() as session:
        versions = service.criteria_versions(session, utcnow())
        amendments = duties.amendments_due(session)
    return render_template("criteria_admin.html", versions=versions, in_force_from=service.in_force_from,
                           amendments=amendments)


@bp.post("/admin/criteria")
@require_role(CAN_ADMIN)
def criteria_new_draft():
    try:
        with _db().unit_of_work() as uow:
            draft = service.draft_criteria_version(uow.session, request.form.get("version", ""),
                                                   current_user.pseudonym, request.form.get("note"))
            uow.commit()
    except DecisionRefused as exc:
        flash(exc.message, "error")
        return redirect(url_for("web.criteria_admin"))
    flash(_("新しい版の下書きを作成しました（施行中の版の写し）。"))
    return redirect(url_for("web.criteria_edit", version=draft.version))


@bp.get("/admin/criteria/<version>")
@require_role(CAN_ADMIN)
def criteria_edit(version):
    now = utcnow()
    with _db().sessions() as session:
        shown = session.get(CriteriaVersion, version)
        if shown is None:
            return render_template("error.html", message=_("版が見つかりません。")), 404
        clauses = _clauses(session, version)
    return render_template("criteria_edit.html", shown=shown, clauses=clauses, routes=domain.CLAUSE_ROUTES,
                           measures=("remove", "hide", "suspend_account"),
                           in_force_if_published_now=clock.criteria_in_force_from(now),
                           in_force_from=service.in_force_from)


def _clause_form(form) -> dict:
    return {"title": form.get("title"), "text": form.get("text"), "category": form.get("category"),
            "routes": form.getlist("routes"), "measures": form.getlist("measures"),
            "covers_suspension": form.get("covers_suspension") == "1",
            "examples": (form.get("examples") or "").splitlines()}


@bp.post("/admin/criteria/<version>/clauses")
@require_role(CAN_ADMIN)
def criteria_save_clause(version):
    clause_id = (request.form.get("clause_id") or "").strip()
    try:
        with _db().unit_of_work() as uow:
            service.save_clause(uow.session, version, clause_id, _clause_form(request.form), current_user.pseudonym)
            uow.commit()
        flash(_("条項 %(id)s を保存しました。", id=clause_id))
    except DecisionRefused as exc:
        flash(f"{clause_id}: {exc.message}", "error")
    return redirect(url_for("web.criteria_edit", version=version) + f"#clause-{clause_id}")


@bp.post("/admin/criteria/<version>/publish")
@require_role(CAN_ADMIN)
def criteria_publish(version):
    try:
        with _db().unit_of_work() as uow:
            published = service.publish_criteria(uow.session, version, current_user.pseudonym)
            in_force = service.in_force_from(published)
            uow.commit()
    except DecisionRefused as exc:
        flash(exc.message, "error")
        return redirect(url_for("web.criteria_edit", version=version))
    flash(_("版 %(v)s を公表しました。%(date)s から施行されます（公表から14日後、§26）。", v=version,
            date=jst_filter(in_force)))
    return redirect(url_for("web.criteria_admin"))
