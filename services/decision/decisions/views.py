"""Recording a decision: the case page's form and the JSON API."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, request, url_for
from flask.views import MethodView
from flask_login import current_user

from shared import clock
from shared.db import utcnow
from shared.web import ApiBlueprint
from services.decision import labels
from services.decision.cases.models import Case, CaseReport
from services.decision.decisions import form as decision_form
from services.decision.decisions import service
from services.decision.decisions.domain import DecisionInput
from services.decision.decisions.schemas import DecisionInSchema, DecisionOutSchema
from services.decision.errors import DecisionRefused
from services.decision.pages import current_db, refused
from services.decision.users.auth import api_user, require_api_role, require_role
from services.decision.users.roles import CAN_DECIDE

bp = Blueprint("decisions", __name__)
blp = ApiBlueprint("decisions_api", __name__, url_prefix="/v1", description="Decisions on cases")


@bp.post("/cases/<case_id>/decide")
@require_role(CAN_DECIDE)
def decide(case_id):
    """A refused decision gives the page back with every input as typed and the reason in
    Japanese; a recorded one says which notices it sets off, then goes to the queue or, with
    「記録して次へ」, to the next case."""
    from services.decision.cases.views import next_case_id, render_case_page

    try:
        decision = service.record_decision(current_db(), case_id, current_user.user,
                                           decision_form.decision_input(request.form))
    except DecisionRefused as exc:
        status = exc.status if exc.status in (400, 403, 404, 409, 422) else 400
        return render_case_page(case_id, form=request.form, status=status,
                                error={"message": labels.japanese_message(exc.message, exc.field), "field": exc.field})
    with current_db().sessions() as session:
        case = session.get(Case, case_id)
        reports = session.scalars(sa.select(CaseReport).where(CaseReport.case_id == case_id)).all()
        notices = decision_form.notice_summary(decision, reports)
        # the summary rides in the session cookie: a case with many requests is summed up
        flash({"case_id": case_id, "action": decision.action, "post": ((case.post or {}).get("text") or "")[:60],
               "notices": notices[:8], "more": max(0, len(notices) - 8)}, "decided")
    next_id = next_case_id(utcnow()) if request.form.get("then") == "next" else None
    if next_id:
        return redirect(url_for("cases.case_page", case_id=next_id))
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
