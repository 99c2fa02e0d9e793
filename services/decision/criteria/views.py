"""The deletion criteria (§26): the public page and API, and their administration (admin only)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user

from shared import clock
from shared.db import utcnow
from shared.web import ApiBlueprint
from services.decision.criteria import amendments, domain, service
from services.decision.criteria.models import Clause, CriteriaVersion
from services.decision.criteria.schemas import CriteriaSchema
from services.decision.decisions.domain import RESTRICTIVE_MEASURES
from services.decision.errors import DecisionRefused
from services.decision.pages import current_db, jst_filter
from services.decision.users.auth import require_role
from services.decision.users.roles import CAN_ADMIN

bp = Blueprint("criteria", __name__)
blp = ApiBlueprint("criteria_api", __name__, url_prefix="/v1", description="The deletion criteria in force")


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
                           in_force_from=service.in_force_from)


def _clauses(session, version: str) -> list[Clause]:
    return list(session.scalars(sa.select(Clause).where(Clause.version == version).order_by(Clause.clause_id)))


# --- criteria administration (§26), admin only ------------------------------------------

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


@bp.get("/admin/criteria/<version>")
@require_role(CAN_ADMIN)
def criteria_edit(version):
    now = utcnow()
    with current_db().sessions() as session:
        shown = session.get(CriteriaVersion, version)
        if shown is None:
            return render_template("error.html", message=_("版が見つかりません。")), 404
        clauses = _clauses(session, version)
    return render_template("criteria_edit.html", shown=shown, clauses=clauses, routes=domain.CLAUSE_ROUTES,
                           measures=RESTRICTIVE_MEASURES,
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
        with current_db().unit_of_work() as uow:
            service.save_clause(uow.session, version, clause_id, _clause_form(request.form), current_user.pseudonym)
            uow.commit()
        flash(_("条項 %(id)s を保存しました。", id=clause_id))
    except DecisionRefused as exc:
        flash(f"{clause_id}: {exc.message}", "error")
    return redirect(url_for("criteria.criteria_edit", version=version) + f"#clause-{clause_id}")


@bp.post("/admin/criteria/<version>/publish")
@require_role(CAN_ADMIN)
def criteria_publish(version):
    try:
        with current_db().unit_of_work() as uow:
            published = service.publish_criteria(uow.session, version, current_user.pseudonym)
            in_force = service.in_force_from(published)
            uow.commit()
    except DecisionRefused as exc:
        flash(exc.message, "error")
        return redirect(url_for("criteria.criteria_edit", version=version))
    flash(_("版 %(v)s を公表しました。%(date)s から施行されます（公表から14日後、§26）。", v=version,
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
