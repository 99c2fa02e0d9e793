"""The queue and a case's page (web view), and the same through the JSON API."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user

from shared import clock
from shared.db import utcnow
from shared.web import ApiBlueprint
from services.decision.audit.models import AuditEvent
from services.decision.cases import domain, service
from services.decision.cases.models import Case, CaseReport
from services.decision.cases.schemas import CaseListSchema, CaseQuerySchema
from services.decision.criteria.service import criteria_in_force
from services.decision.decisions.domain import EXCEPTION_CODES
from services.decision.decisions.models import Decision
from services.decision.errors import DecisionRefused
from services.decision.inquiries.models import PosterInquiry, PosterReply
from services.decision.pages import current_db, refused
from services.decision.users.auth import api_user, require_api_role, require_role
from services.decision.users.models import User
from services.decision.users.roles import CAN_DECIDE, CAN_READ_QUEUE, CAN_SEE_CONTACTS, may

bp = Blueprint("cases", __name__)
blp = ApiBlueprint("cases_api", __name__, url_prefix="/v1", description="The moderation queue and claims")
UNKNOWN_AUTHOR = "unknown"  # what intake's public form records when the post's author is not known


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
    warning = clock.warning_window()
    with current_db().sessions() as session:
        cases = service.queue(session, kind=kind, category=category, near_deadline=near, view=view,
                              claimed_by=int(current_user.id) if mine else None, limit=100, now=now)
        counts = service.cached_queue_counts(session, now)
    return render_template("queue.html", cases=cases, counts=counts, now=now, kind=kind, category=category,
                           near=near, mine=mine, view=view, categories=list(domain.SEVERITY),
                           is_near=lambda c: domain.is_near_deadline(c.next_deadline_at, now, warning),
                           is_ready=lambda c: service.is_ready_to_decide(c, now))


@bp.get("/queue/next")
@require_role(CAN_DECIDE)
def next_case():
    with current_db().sessions() as session:
        now = utcnow()
        for case in service.queue(session, limit=20, now=now):
            if case.claimed_by in (None, int(current_user.id)) or (case.claim_expires_at and case.claim_expires_at < now):
                return redirect(url_for("cases.case_page", case_id=case.id))
    flash(_("対応待ちの案件はありません。"))
    return redirect(url_for("cases.queue_page"))


@bp.get("/cases/<case_id>")
@require_role(CAN_READ_QUEUE)
def case_page(case_id):
    now = utcnow()
    with current_db().sessions() as session:
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
        version, clauses = criteria_in_force(session, now)
        deciders = _deciders(session, decisions)
        inquiries = session.scalars(sa.select(PosterInquiry).where(PosterInquiry.case_id == case_id)
                                    .order_by(PosterInquiry.sent_at)).all()
        replies = session.scalars(sa.select(PosterReply).where(PosterReply.case_id == case_id)
                                  .order_by(PosterReply.received_at)).all()
    return render_template("case.html", case=case, reports=reports, decisions=decisions, history=history,
                           earlier=earlier, clauses=clauses, criteria_version=version, now=now,
                           deciders=deciders, inquiries=inquiries, replies=replies,
                           ready=service.is_ready_to_decide(case, now),
                           show_contacts=may(current_user.role, CAN_SEE_CONTACTS),
                           can_decide=may(current_user.role, CAN_DECIDE),
                           exception_codes=EXCEPTION_CODES,
                           is_near=domain.is_near_deadline(case.next_deadline_at, now, clock.warning_window()))


def _deciders(session, decisions) -> dict:
    """Pseudonym and role of whoever recorded each decision (moderators' names stay private)."""
    ids = {d.decided_by for d in decisions}
    users = session.scalars(sa.select(User).where(User.id.in_(ids))).all() if ids else []
    return {u.id: u.pseudonym for u in users}


@bp.post("/cases/<case_id>/claim")
@require_role(CAN_DECIDE)
def claim(case_id):
    try:
        service.claim_case(current_db(), case_id, current_user.user)
        flash(_("案件を担当しました（15分間）。"))
    except DecisionRefused as exc:
        flash(exc.message, "error")
    return redirect(url_for("cases.case_page", case_id=case_id))


@bp.post("/cases/<case_id>/release")
@require_role(CAN_DECIDE)
def release(case_id):
    service.release_case(current_db(), case_id, current_user.user)
    return redirect(url_for("cases.queue_page"))


# --- the JSON API ------------------------------------------------------------

def case_summary(case, now) -> dict:
    return {
        "id": case.id, "post_id": case.post_id, "status": case.status, "stage": case.stage,
        "priority": case.priority, "score": case.score, "top_category": case.top_category,
        "model_version": case.model_version, "reporter_count": case.reporter_count,
        "report_count": case.report_count, "request_count": case.request_count,
        "next_deadline_at": clock.to_jst_iso(case.next_deadline_at) if case.next_deadline_at else None,
        "near_deadline": domain.is_near_deadline(case.next_deadline_at, now, clock.warning_window()), "notice_blocked": case.notice_blocked,
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
