"""The queue and a case's page (web view), and the same through the JSON API."""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user

from shared import clock
from shared.db import utcnow
from shared.web import ApiBlueprint, json_error
from services.decision import labels
from services.decision.cases import domain, page, queue_view, service
from services.decision.cases.models import Case
from services.decision.cases.schemas import CaseListSchema, CaseQuerySchema
from services.decision.casework import service as casework
from services.decision.decisions import form as decision_form
from services.decision.errors import DecisionRefused
from services.decision.pages import current_db, refused
from services.decision.users.auth import api_user, require_api_role, require_role
from services.decision.users.roles import CAN_DECIDE, CAN_READ_QUEUE, CAN_SEE_CONTACTS, may

bp = Blueprint("cases", __name__)
blp = ApiBlueprint("cases_api", __name__, url_prefix="/v1", description="The moderation queue and claims")


@bp.get("/queue")
@require_role(CAN_READ_QUEUE)
def queue_page():
    now, args, me = utcnow(), request.args, int(current_user.id)
    warning = clock.warning_window()
    kind = args.get("kind") if args.get("kind") in ("report", "deletion_request") else None
    category, near, mine = args.get("category") or None, args.get("near_deadline") == "1", args.get("mine") == "1"
    view = args.get("view") if args.get("view") in service.QUEUE_VIEWS else None
    with current_db().sessions() as session:
        cases = service.queue(session, kind=kind, category=category, near_deadline=near, view=view,
                              claimed_by=me if mine else None, limit=100, now=now,
                              where=queue_view.queue_conditions(args, now, me))
        counts = service.cached_queue_counts(session, now)
        assigned = casework.assignments(session, [c.id for c in cases])
        holders = queue_view.holders(session, cases, assigned)
        saved = casework.saved_filters(session, me)
    return render_template("queue.html", cases=cases, counts=counts, now=now, kind=kind, category=category,
                           near=near, mine=mine, view=view, q=args.get("q", ""), waiting=args.get("waiting") == "1",
                           categories=list(domain.SEVERITY), holders=holders, saved=saved, assigned=assigned,
                           assigned_me=args.get("assigned") == "me", filter_query=casework.filter_query(args),
                           poll_seconds=_poll_seconds(args), qv=queue_view,
                           is_near=lambda c: domain.is_near_deadline(c.next_deadline_at, now, warning),
                           is_ready=lambda c: service.is_ready_to_decide(c, now))


def _poll_seconds(args) -> int:
    """How often the open queue page asks for new urgent cases (2 s to 5 min; 20 s unless asked)."""
    wanted = args.get("poll") or ""
    return min(300, max(2, int(wanted))) if wanted.isdigit() else 20


@bp.get("/queue/urgent")
@require_role(CAN_READ_QUEUE)
def urgent_cases():
    """New urgent cases since the queue page was drawn; the page asks every few seconds
    (static/queue-push.js) and says so at the top, whatever the list's filters."""
    now = utcnow()
    try:
        since = clock.parse_instant(request.args.get("since", ""))
    except (TypeError, ValueError):
        return json_error(400, "since: ISO 8601 date-time with offset expected")
    with current_db().sessions() as session:
        cases = queue_view.urgent_since(session, since, now)
        found = [{"id": c.id, "url": url_for("cases.case_page", case_id=c.id),
                  "text": ((c.post or {}).get("text") or "")[:60], "priority": c.priority,
                  "category": labels.category_label(c.top_category)} for c in cases]
    return jsonify({"count": len(found), "cases": found, "checked_at": now.isoformat()})


def next_case_id(now) -> str | None:
    """The first case in queue order nobody else holds or was given (cases waiting on the
    poster are not in the queue's default order, so ``n`` never hands them out); the cases given
    to this moderator come first."""
    me = int(current_user.id)
    with current_db().sessions() as session:
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
    case_id = next_case_id(utcnow())
    if case_id:
        return redirect(url_for("cases.case_page", case_id=case_id))
    flash(_("対応待ちの案件はありません。"))
    return redirect(url_for("cases.queue_page"))


def render_case_page(case_id, *, form=None, error=None, status=200):
    """The case page; after a refused decision, with the form as typed and the reason."""
    now = utcnow()
    with current_db().sessions() as session:
        case = session.get(Case, case_id)
        if case is None:
            return render_template("error.html", message=_("案件が見つかりません。")), 404
        context = page.case_context(session, case, int(current_user.id), now)
    return render_template("case.html", **context, form=decision_form.kept_values(form), error=error,
                           show_contacts=may(current_user.role, CAN_SEE_CONTACTS),
                           can_decide=may(current_user.role, CAN_DECIDE), df=decision_form), status


@bp.get("/cases/<case_id>")
@require_role(CAN_READ_QUEUE)
def case_page(case_id):
    return render_case_page(case_id)


@bp.post("/cases/<case_id>/claim")
@require_role(CAN_DECIDE)
def claim(case_id):
    try:
        service.claim_case(current_db(), case_id, current_user.user)
        flash(_("案件を担当しました（15分間）。"))
    except DecisionRefused as exc:
        flash(labels.japanese_message(exc.message, exc.field), "error")
    return redirect(url_for("cases.case_page", case_id=case_id))


@bp.post("/cases/<case_id>/release")
@require_role(CAN_DECIDE)
def release(case_id):
    service.release_case(current_db(), case_id, current_user.user)
    flash(_("担当を解除しました。"))
    return redirect(url_for("cases.queue_page"))


# --- the JSON API ------------------------------------------------------------

def case_summary(case, now) -> dict:
    return {
        "id": case.id, "post_id": case.post_id, "status": case.status, "stage": case.stage,
        "priority": case.priority, "score": case.score, "top_category": case.top_category,
        "model_version": case.model_version, "reporter_count": case.reporter_count,
        "report_count": case.report_count, "request_count": case.request_count,
        "next_deadline_at": clock.to_jst_iso(case.next_deadline_at) if case.next_deadline_at else None,
        "near_deadline": domain.is_near_deadline(case.next_deadline_at, now, clock.warning_window()),
        "notice_blocked": case.notice_blocked,
        "claimed_by": str(case.claimed_by) if case.claimed_by else None, "version": case.version,
        "created_at": clock.to_jst_iso(case.created_at),
        "ready_to_decide": service.is_ready_to_decide(case, now),
    }


@blp.route("/cases")
class Cases(MethodView):
    @require_api_role(CAN_READ_QUEUE)
    @blp.arguments(CaseQuerySchema, location="query")
    @blp.response(200, CaseListSchema)
    def get(self, args):
        """Cases in queue order (highest priority first)."""
        now = utcnow()
        with current_db().sessions() as session:
            cases = service.queue(session, status=args["status"], kind=args["kind"], category=args["category"],
                                  near_deadline=args["near_deadline"], view=args["view"], limit=args["limit"],
                                  offset=args["offset"], now=now)
            return {"cases": [case_summary(c, now) for c in cases],
                    "counts": service.cached_queue_counts(session, now)}


@blp.route("/cases/<case_id>/claim")
class Claim(MethodView):
    @blp.response(200, CaseListSchema)
    @require_api_role(CAN_DECIDE)
    def post(self, case_id):
        """Claim a case (a lease of 15 minutes)."""
        try:
            case = service.claim_case(current_db(), case_id, api_user())
        except DecisionRefused as exc:
            refused(exc)
        return {"cases": [case_summary(case, utcnow())], "counts": {}}
