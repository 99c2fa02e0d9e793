"""The criteria administration pages (§26, admin only): the versions, a one-page clause editor
(the list of a version's clauses beside one form for the selected clause), and publishing after
a confirmation that shows what the draft changes against the published version it follows."""
from __future__ import annotations

from types import SimpleNamespace

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from shared import clock
from shared.db import utcnow
from services.decision import clause_categories, criteria_diff, domain, duties, service
from services.decision.auth import CAN_ADMIN, require_role
from services.decision.domain import DecisionRefused
from services.decision.models import Clause, CriteriaVersion
from services.decision.web import _db, bp, jst_filter

NEW_CLAUSE = "new"
MEASURES = ("remove", "hide", "suspend_account")


@bp.app_template_global()
def category_name(category: str | None) -> str:
    return clause_categories.category_name(category)


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


def _clauses(session, version: str) -> list[Clause]:
    return list(session.scalars(sa.select(Clause).where(Clause.version == version).order_by(Clause.clause_id)))


def _editor(version: str, selected: str | None, entered=None, error: DecisionRefused | None = None):
    """The editor page: ``entered`` (what the form sent) replaces the stored clause when a save
    was refused, so nothing typed is lost."""
    with _db().sessions() as session:
        shown = session.get(CriteriaVersion, version)
        if shown is None:
            return render_template("error.html", message=_("版が見つかりません。")), 404
        clauses = _clauses(session, version)
    editable = shown.status == "draft"
    by_id = {c.clause_id: c for c in clauses}
    if selected not in by_id and not (editable and selected == NEW_CLAUSE):
        selected = clauses[0].clause_id if clauses else (NEW_CLAUSE if editable else None)
    clause = entered if entered is not None else by_id.get(selected)
    page = render_template("criteria_edit.html", shown=shown, clauses=clauses, selected=selected, clause=clause,
                           editable=editable, error=error, routes=domain.CLAUSE_ROUTES, measures=MEASURES,
                           model_categories=clause_categories.MODEL, other_categories=clause_categories.NOT_SCORED,
                           in_force_if_published_now=clock.criteria_in_force_from(utcnow()),
                           in_force_from=service.in_force_from)
    return page, (400 if error else 200)


@bp.get("/admin/criteria/<version>")
@require_role(CAN_ADMIN)
def criteria_edit(version):
    return _editor(version, request.args.get("clause"))


def _clause_form(form) -> dict:
    return {"title": form.get("title"), "text": form.get("text"), "category": form.get("category"),
            "routes": form.getlist("routes"), "measures": form.getlist("measures"),
            "covers_suspension": form.get("covers_suspension") == "1",
            "examples": (form.get("examples") or "").splitlines()}


@bp.post("/admin/criteria/<version>/clauses")
@require_role(CAN_ADMIN)
def criteria_save_clause(version):
    clause_id = (request.form.get("clause_id") or "").strip()
    is_new = request.form.get("is_new") == "1"
    fields = _clause_form(request.form)
    try:
        with _db().unit_of_work() as uow:
            if is_new and uow.session.get(Clause, (version, clause_id)) is not None:
                raise DecisionRefused(_("条項ID %(id)s は既にあります。別のIDを入力してください。", id=clause_id),
                                      "clause_id", status=409)
            service.save_clause(uow.session, version, clause_id, fields, current_user.pseudonym)
            uow.commit()
    except DecisionRefused as exc:
        entered = SimpleNamespace(clause_id=clause_id, **fields)
        return _editor(version, NEW_CLAUSE if is_new else clause_id, entered=entered, error=exc)
    flash(_("条項 %(id)s を保存しました。", id=clause_id))
    return redirect(url_for("web.criteria_edit", version=version, clause=clause_id))


@bp.get("/admin/criteria/<version>/publish")
@require_role(CAN_ADMIN)
def criteria_publish_confirm(version):
    """What publishing would change, and the button that does it."""
    with _db().sessions() as session:
        shown = session.get(CriteriaVersion, version)
        if shown is None:
            return render_template("error.html", message=_("版が見つかりません。")), 404
        if shown.status != "draft":
            return redirect(url_for("web.criteria_edit", version=version))
        base, changes = criteria_diff.changes_to_publish(session, version)
        clause_count = len(_clauses(session, version))
    return render_template("criteria_publish.html", shown=shown, base=base, changes=changes,
                           clause_count=clause_count, base_in_force=base is not None and service.in_force_from(base)
                           <= utcnow(), in_force_if_published_now=clock.criteria_in_force_from(utcnow()),
                           in_force_from=service.in_force_from)


@bp.post("/admin/criteria/<version>/publish")
@require_role(CAN_ADMIN)
def criteria_publish(version):
    if request.form.get("confirmed") != version:
        # Only the confirmation page, which shows the changes, publishes.
        return redirect(url_for("web.criteria_publish_confirm", version=version))
    try:
        with _db().unit_of_work() as uow:
            published = service.publish_criteria(uow.session, version, current_user.pseudonym)
            in_force = service.in_force_from(published)
            uow.commit()
    except DecisionRefused as exc:
        flash(exc.message, "error")
        return redirect(url_for("web.criteria_publish_confirm", version=version))
    flash(_("版 %(v)s を公表しました。%(date)s から施行されます（公表から14日後、第26条）。", v=version,
            date=jst_filter(in_force)))
    return redirect(url_for("web.criteria_admin"))
