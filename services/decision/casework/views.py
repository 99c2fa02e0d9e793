"""Web view routes for team work: internal notes, reason templates, saved queue filters and the
media setting (casework/service.py holds the rules)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from shared.db import utcnow
from services.decision import labels
from services.decision.cases.models import Case
from services.decision.casework import bulk
from services.decision.casework import service as casework
from services.decision.decisions import form as decision_form
from services.decision.decisions.domain import EXCEPTION_CODES
from services.decision.criteria.service import criteria_in_force
from services.decision.errors import DecisionRefused
from services.decision.pages import action_label, current_db as _db
from services.decision.users.auth import require_role
from services.decision.users.roles import CAN_ASSIGN, CAN_DECIDE, CAN_EDIT_TEMPLATES, CAN_READ_QUEUE

bp = Blueprint("casework", __name__)


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
    return redirect(url_for("cases.case_page", case_id=case_id) + "#notes")


@bp.post("/cases/<case_id>/assign")
@require_role(CAN_ASSIGN)
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
    return redirect(url_for("cases.case_page", case_id=case_id))


BULK_KIND_LABELS = {"author": _l("同じ投稿者"), "text": _l("同じ本文"), "wave": _l("スパムの波（24時間以内・書き出しが同じ）")}
BULK_MEASURES = ("remove", "hide", "suspend_account", "no_action")


def _bulk_page(case_id, kind, *, results=None, form=None, error=None, status=200):
    now = utcnow()
    with _db().sessions() as session:
        seed = session.get(Case, case_id)
        if seed is None:
            return render_template("error.html", message=_("案件が見つかりません。")), 404
        try:
            cases = bulk.matching_cases(session, seed, kind, now)
        except DecisionRefused as exc:
            return render_template("error.html", message=labels.japanese_message(exc.message, exc.field)), 400
        version, clauses = criteria_in_force(session, now)
    return render_template("bulk.html", seed=seed, kind=kind, kind_label=str(BULK_KIND_LABELS[kind]), cases=cases,
                           clauses=clauses, criteria_version=version, exception_codes=EXCEPTION_CODES,
                           measures=BULK_MEASURES, results=results, form=decision_form.kept_values(form),
                           picked=set(form.getlist("case_ids")) if form else None, error=error,
                           df=decision_form, templates=casework.reason_templates(session)), status


@bp.get("/cases/<case_id>/bulk")
@require_role(CAN_DECIDE)
def bulk_preview(case_id):
    return _bulk_page(case_id, request.args.get("by") if request.args.get("by") in bulk.KINDS else "author")


@bp.post("/cases/<case_id>/bulk")
@require_role(CAN_DECIDE)
def bulk_decide(case_id):
    kind = request.form.get("by") if request.form.get("by") in bulk.KINDS else "author"
    picked = request.form.getlist("case_ids")
    try:
        if not picked:
            raise DecisionRefused("対象の案件を1件以上選んでください。", "case_ids")
        if request.form.get("measure") not in BULK_MEASURES:
            raise DecisionRefused("まとめて記録できるのは削除・非表示・停止・措置なしです。", "measure")
        data = decision_form.decision_input(request.form)
        results = bulk.decide_many(_db(), case_id, kind, picked, current_user.user, data)
    except DecisionRefused as exc:
        return _bulk_page(case_id, kind, form=request.form, status=400,
                          error={"message": labels.japanese_message(exc.message, exc.field), "field": exc.field})
    for r in results:
        r["message"] = labels.japanese_message(r["message"], r.get("field")) if not r["ok"] else ""
    return _bulk_page(case_id, kind, results=results, form=request.form)


@bp.get("/reason-templates")
@require_role(CAN_EDIT_TEMPLATES)
def reason_templates():
    with _db().sessions() as session:
        version, clauses = criteria_in_force(session, utcnow())
        templates = casework.reason_templates(session)
    keys = [(c.clause_id, f"{c.clause_id} {c.title}") for c in clauses]
    keys += [(k, action_label(k)) for k in casework.ACTION_TEMPLATE_KEYS]
    return render_template("reason_templates.html", keys=keys, templates=templates, version=version)


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
        return redirect(url_for("cases.queue_page") + (f"?{query}" if query else ""))
    except DecisionRefused as exc:
        flash(labels.japanese_message(exc.message, exc.field), "error")
        return redirect(url_for("cases.queue_page"))


@bp.post("/queue/filters/<filter_id>/delete")
@require_role(CAN_READ_QUEUE)
def delete_filter(filter_id):
    with _db().unit_of_work() as uow:
        if filter_id.isdigit():  # only one's own filters: the user id is part of the condition
            casework.delete_filter(uow.session, int(current_user.id), int(filter_id))
        uow.commit()
    return redirect(url_for("cases.queue_page"))


@bp.post("/settings/media")
@require_role(CAN_READ_QUEUE)
def media_setting():
    with _db().unit_of_work() as uow:
        casework.set_reveal_media(uow.session, int(current_user.id), request.form.get("reveal_media") == "1")
        uow.commit()
    back = request.form.get("case_id")
    return redirect(url_for("cases.case_page", case_id=back) if back else url_for("cases.queue_page"))
