"""The deletion criteria (§26): the public page and API, and their administration (admin only):
the versions, a one-page clause editor (the list of a version's clauses beside one form for the
selected clause), and publishing after a confirmation showing the changes against the published
version the draft follows."""
from __future__ import annotations

from types import SimpleNamespace

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user

from shared import clock
from shared.db import utcnow
from shared.settings import public_url
from shared.web import ApiBlueprint
from services.decision.criteria import amendments, categories, diff, domain, service
from services.decision.criteria.models import Clause, CriteriaVersion
from services.decision.criteria.schemas import CriteriaSchema
from services.decision.decisions.domain import RESTRICTIVE_MEASURES
from services.decision.errors import DecisionRefused
from services.decision.pages import current_db, jst_filter
from services.decision.users.auth import require_role
from services.decision.users.roles import CAN_ADMIN

bp = Blueprint("criteria", __name__)
blp = ApiBlueprint("criteria_api", __name__, url_prefix="/v1", description="The deletion criteria in force")


@bp.app_template_global()
def category_name(category: str | None) -> str:
    return categories.category_name(category)


@bp.get("/criteria")
def criteria_page():
    """Public page (§26): the version in force, an upcoming one with the day it takes effect, and
    past versions; ``?version=`` shows any published version's wording."""
    now = utcnow()
    with current_db().sessions() as session:
        versions = service.criteria_versions(session, now)
        shown = versions["in_force"]
        wanted = request.args.get("version")
        if wanted:
            shown = session.get(CriteriaVersion, wanted)
            if shown is None or shown.status != "published":
                return render_template("error.html", message=_("その版は公表されていません。")), 404
        clauses = _clauses(session, shown.version) if shown else []
    return render_template("criteria.html", shown=shown, clauses=clauses, versions=versions, now=now,
                           in_force_from=service.in_force_from, request_form_url=public_url("intake") + "/request")


def _clauses(session, version: str) -> list[Clause]:
    return list(session.scalars(sa.select(Clause).where(Clause.version == version).order_by(Clause.clause_id)))


# --- criteria administration (§26), admin only ------------------------------------------

NEW_CLAUSE = "new"


@bp.get("/admin/criteria")
@require_role(CAN_ADMIN)
def criteria_admin():
    with current_db().sessions() as session:
        versions = service.criteria_versions(session, utcnow())
        due = amendments.amendments_due(session)
    return render_template("criteria_admin.html", versions=versions, in_force_from=service.in_force_from,
                           amendments=due)


@bp.post("/admin/criteria")
@require_role(CAN_ADMIN)
def criteria_new_draft():
    try:
        with current_db().unit_of_work() as uow:
            draft = service.draft_criteria_version(uow.session, request.form.get("version", ""),
                                                   current_user.pseudonym, request.form.get("note"))
            uow.commit()
    except DecisionRefused as exc:
        flash(exc.message, "error")
        return redirect(url_for("criteria.criteria_admin"))
    flash(_("新しい版の下書きを作成しました（施行中の版の写し）。"))
    return redirect(url_for("criteria.criteria_edit", version=draft.version))


def _editor(version: str, selected: str | None, entered=None, error: DecisionRefused | None = None):
    """The editor page: ``entered`` (what the form sent) replaces the stored clause when a save
    was refused, so nothing typed is lost."""
    with current_db().sessions() as session:
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
                           editable=editable, error=error, routes=domain.CLAUSE_ROUTES, measures=RESTRICTIVE_MEASURES,
                           model_categories=categories.MODEL, other_categories=categories.NOT_SCORED,
                           in_force_if_published_now=clock.criteria_in_force_from(utcnow()),
                           in_force_from=service.in_force_from)
    return page, (error.status if error else 200)


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
        with current_db().unit_of_work() as uow:
            if is_new and uow.session.get(Clause, (version, clause_id)) is not None:
                raise DecisionRefused(_("条項ID %(id)s は既にあります。別のIDを入力してください。", id=clause_id),
                                      "clause_id", status=409)
            service.save_clause(uow.session, version, clause_id, fields, current_user.pseudonym)
            uow.commit()
    except DecisionRefused as exc:
        entered = SimpleNamespace(clause_id=clause_id, **fields)
        return _editor(version, NEW_CLAUSE if is_new else clause_id, entered=entered, error=exc)
    flash(_("条項 %(id)s を保存しました。", id=clause_id))
    return redirect(url_for("criteria.criteria_edit", version=version, clause=clause_id))


@bp.get("/admin/criteria/<version>/publish")
@require_role(CAN_ADMIN)
def criteria_publish_confirm(version):
    """What publishing would change, and the button that does it."""
    with current_db().sessions() as session:
        shown = session.get(CriteriaVersion, version)
        if shown is None:
            return render_template("error.html", message=_("版が見つかりません。")), 404
        if shown.status != "draft":
            return redirect(url_for("criteria.criteria_edit", version=version))
        base, changes = diff.changes_to_publish(session, version)
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
        return redirect(url_for("criteria.criteria_publish_confirm", version=version))
    try:
        with current_db().unit_of_work() as uow:
            published = service.publish_criteria(uow.session, version, current_user.pseudonym)
            in_force = service.in_force_from(published)
            uow.commit()
    except DecisionRefused as exc:
        flash(exc.message, "error")
        return redirect(url_for("criteria.criteria_publish_confirm", version=version))
    flash(_("版 %(v)s を公表しました。%(date)s から施行されます（公表から14日後、第26条）。", v=version,
            date=jst_filter(in_force)))
    return redirect(url_for("criteria.criteria_admin"))


# --- the JSON API ------------------------------------------------------------

@blp.route("/criteria")
class Criteria(MethodView):
    @blp.response(200, CriteriaSchema)
    def get(self):
        """The deletion criteria in force (public)."""
        with current_db().sessions() as session:
            version, clauses = service.criteria_in_force(session, utcnow())
            return {"version": version.version if version else None,
                    "published_at": clock.to_jst_iso(version.published_at) if version else None,
                    "clauses": [{"id": c.clause_id, "title": c.title, "text": c.text, "category": c.category,
                                 "routes": c.routes, "measures": c.measures, "covers_suspension": c.covers_suspension,
                                 "examples": c.examples} for c in clauses]}
