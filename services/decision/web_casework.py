"""Web view routes for team work: internal notes, reason templates, saved queue filters and the
media setting (services/decision/casework.py holds the rules)."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from services.decision import casework, labels, service
from services.decision.auth import CAN_DECIDE, CAN_READ_QUEUE, require_role
from services.decision.domain import DecisionRefused
from services.decision.models import Case

bp = Blueprint("casework", __name__)
CAN_EDIT_TEMPLATES = {"supervisor", "admin"}


def _db():
    return current_app.config["RUNTIME"].db


@bp.post("/cases/<case_id>/notes")
@require_role(CAN_DECIDE)
def add_note(case_id):
    try:
        with _db().unit_of_work() as uow:
            if uow.session.get(Case, case_id) is None:
                return render_template("error.html", message=_("案件が見つかりません。")), 404
            casework.add_note(uow.session, case_id, current_user.user, request.form.get("text", ""))
            uow.commit()
        flash(_("内部メモを追加しました。"))
    except DecisionRefused as exc:
        flash(labels.japanese_message(exc.message, exc.field), "error")
    return redirect(url_for("web.case_page", case_id=case_id) + "#notes")


@bp.post("/cases/<case_id>/assign")
@require_role(CAN_EDIT_TEMPLATES)
def assign(case_id):
    wanted = request.form.get("assignee") or ""
    try:
        with _db().unit_of_work() as uow:
            if uow.session.get(Case, case_id) is None:
                return render_template("error.html", message=_("案件が見つかりません。")), 404
            casework.assign(uow.session, case_id, int(wanted) if wanted.isdigit() else None, current_user.user)
            uow.commit()
        flash(_("担当者を割り当てました。") if wanted else _("割り当てを外しました。"))
    except DecisionRefused as exc:
        flash(labels.japanese_message(exc.message, exc.field), "error")
    return redirect(url_for("web.case_page", case_id=case_id))


@bp.get("/reason-templates")
@require_role(CAN_EDIT_TEMPLATES)
def reason_templates():
    from shared.db import utcnow

    with _db().sessions() as session:
        version, clauses = service.criteria_in_force(session, utcnow())
        templates = casework.reason_templates(session)
    keys = [(c.clause_id, f"{c.clause_id} {c.title}") for c in clauses]
    keys += [(k, labels_for_action(k)) for k in casework.ACTION_TEMPLATE_KEYS]
    return render_template("reason_templates.html", keys=keys, templates=templates, version=version)


def labels_for_action(action: str) -> str:
    from services.decision.web import action_label

    return action_label(action)


@bp.post("/reason-templates/<key>")
@require_role(CAN_EDIT_TEMPLATES)
def save_reason_template(key):
    try:
        with _db().unit_of_work() as uow:
            casework.save_reason_template(uow.session, key, request.form, current_user.pseudonym)
            uow.commit()
        flash(_("定型文 %(key)s を保存しました。", key=key))
    except DecisionRefused as exc:
        flash(labels.japanese_message(exc.message, exc.field), "error")
    return redirect(url_for("casework.reason_templates") + f"#t-{key}")


@bp.post("/queue/filters")
@require_role(CAN_READ_QUEUE)
def save_filter():
    try:
        with _db().unit_of_work() as uow:
            saved = casework.save_filter(uow.session, current_user.user, request.form.get("name", ""), request.form)
            query = saved.query
            uow.commit()
        flash(_("絞り込みを保存しました。"))
        return redirect(url_for("web.queue_page") + (f"?{query}" if query else ""))
    except DecisionRefused as exc:
        flash(labels.japanese_message(exc.message, exc.field), "error")
        return redirect(url_for("web.queue_page"))


@bp.post("/queue/filters/<filter_id>/delete")
@require_role(CAN_READ_QUEUE)
def delete_filter(filter_id):
    with _db().unit_of_work() as uow:
        if filter_id.isdigit():  # only one's own filters: the user id is part of the condition
            casework.delete_filter(uow.session, int(current_user.id), int(filter_id))
        uow.commit()
    return redirect(url_for("web.queue_page"))


@bp.post("/settings/media")
@require_role(CAN_READ_QUEUE)
def media_setting():
    with _db().unit_of_work() as uow:
        casework.set_reveal_media(uow.session, int(current_user.id), request.form.get("reveal_media") == "1")
        uow.commit()
    back = request.form.get("case_id")
    return redirect(url_for("web.case_page", case_id=back) if back else url_for("web.queue_page"))
