"""Recording a decision: the case page's form and the JSON API."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, request, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user

from shared import clock
from shared.web import ApiBlueprint
from services.decision.decisions import service
from services.decision.decisions.domain import DecisionInput
from services.decision.decisions.schemas import DecisionInSchema, DecisionOutSchema
from services.decision.errors import DecisionRefused
from services.decision.pages import current_db, refused
from services.decision.users.auth import api_user, require_api_role, require_role
from services.decision.users.roles import CAN_DECIDE

bp = Blueprint("decisions", __name__)
blp = ApiBlueprint("decisions_api", __name__, url_prefix="/v1", description="Decisions on cases")


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
        service.record_decision(current_db(), case_id, current_user.user, data)
    except DecisionRefused as exc:
        flash(exc.message, "error")
        return redirect(url_for("cases.case_page", case_id=case_id))
    flash(_("決定を記録しました。"))
    return redirect(url_for("cases.queue_page"))


# --- the JSON API ------------------------------------------------------------

@blp.route("/cases/<case_id>/decisions")
class Decisions(MethodView):
    @require_api_role(CAN_DECIDE)
    @blp.arguments(DecisionInSchema, location="json")
    @blp.response(201, DecisionOutSchema)
    def post(self, body, case_id):
        """Record a decision or a non-final step on a case."""
        data = DecisionInput(action=body["measure"], reason=body["reason"], clause_id=body.get("clause_id"),
                             exception_code=body.get("exception_code"), facts=body.get("facts"),
                             scope=body.get("scope"), suspension_until=body.get("suspension_until"),
                             suspension_permanent=body.get("suspension_permanent", False),
                             expected_version=body.get("expected_version"),
                             override_claim=body.get("override_claim", False),
                             requester_reason=body.get("requester_reason"))
        try:
            decision = service.record_decision(current_db(), case_id, api_user(), data)
        except DecisionRefused as exc:
            refused(exc)
        return {"id": decision.id, "case_id": decision.case_id, "action": decision.action, "final": decision.final,
                "measure": decision.measure, "clause_id": decision.clause_id,
                "clause_version": decision.clause_version, "exception_code": decision.exception_code,
                "reason": decision.reason, "decided_at": clock.to_jst_iso(decision.decided_at),
                "scope": decision.scope, "suspension_permanent": decision.suspension_permanent,
                "suspension_until": clock.to_jst_iso(decision.suspension_until) if decision.suspension_until else None,
                "specialist_reviewed": decision.specialist_reviewed}
