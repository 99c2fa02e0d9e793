"""The JSON API for tools, tests and back-office scripts (HTTP Basic or bearer token)."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort

from shared.web import ApiBlueprint

from shared import clock
from shared.db import utcnow
from services.decision import service
from services.decision.auth import (CAN_AUDIT, CAN_DECIDE, CAN_HAND_IN_REPLIES, CAN_READ_QUEUE, api_user,
                                    require_api_role)
from services.decision.domain import DecisionInput, DecisionRefused, is_near_deadline
from services.decision.schemas import (CaseListSchema, CaseQuerySchema, CriteriaSchema, DecisionInSchema,
                                       DecisionOutSchema, PosterReplyInSchema, PosterReplyOutSchema,
                                       VerifyQuerySchema, VerifyResultSchema)

blp = ApiBlueprint("api", __name__, url_prefix="/v1", description="Moderation API")


def _db():
    return current_app.config["RUNTIME"].db


def case_summary(case, now) -> dict:
    return {
        "id": case.id, "post_id": case.post_id, "status": case.status, "stage": case.stage,
        "priority": case.priority, "score": case.score, "top_category": case.top_category,
        "model_version": case.model_version, "reporter_count": case.reporter_count,
        "report_count": case.report_count, "request_count": case.request_count,
        "next_deadline_at": clock.to_jst_iso(case.next_deadline_at) if case.next_deadline_at else None,
        "near_deadline": is_near_deadline(case.next_deadline_at, now), "notice_blocked": case.notice_blocked,
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
        with _db().sessions() as session:
            cases = service.queue(session, status=args["status"], kind=args["kind"], category=args["category"],
                                  near_deadline=args["near_deadline"], view=args["view"], limit=args["limit"],
                                  offset=args["offset"], now=now)
            return {"cases": [case_summary(c, now) for c in cases],
                    "counts": service.cached_queue_counts(session, now)}


def _refused(exc: DecisionRefused):
    abort(exc.status, message=exc.message, errors={"json": {exc.field: [exc.message]}} if exc.field else None)


@blp.route("/cases/<case_id>/claim")
class Claim(MethodView):
    @blp.response(200, CaseListSchema)
    @require_api_role(CAN_DECIDE)
    def post(self, case_id):
        """Claim a case (a lease of 15 minutes)."""
        try:
            case = service.claim_case(_db(), case_id, api_user())
        except DecisionRefused as exc:
            _refused(exc)
        return {"cases": [case_summary(case, utcnow())], "counts": {}}


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
            decision = service.record_decision(_db(), case_id, api_user(), data)
        except DecisionRefused as exc:
            _refused(exc)
        return {"id": decision.id, "case_id": decision.case_id, "action": decision.action, "final": decision.final,
                "measure": decision.measure, "clause_id": decision.clause_id,
                "clause_version": decision.clause_version, "exception_code": decision.exception_code,
                "reason": decision.reason, "decided_at": clock.to_jst_iso(decision.decided_at),
                "scope": decision.scope, "suspension_permanent": decision.suspension_permanent,
                "suspension_until": clock.to_jst_iso(decision.suspension_until) if decision.suspension_until else None,
                "specialist_reviewed": decision.specialist_reviewed}


@blp.route("/cases/<case_id>/poster-replies")
class PosterReplies(MethodView):
    @require_api_role(CAN_HAND_IN_REPLIES)
    @blp.arguments(PosterReplyInSchema, location="json")
    @blp.response(201, PosterReplyOutSchema)
    def post(self, body, case_id):
        """Hand in the poster's reply to an opinion inquiry (§3(2)(ii)); role ``sns`` or ``admin``.

        The same ``reply_id`` is recorded once. An objection inside the window (7 or 2 days from
        ``delivered_at``) keeps the case from being ready to decide; a late one is kept and logged."""
        data = {**body, "case_id": case_id}
        try:
            reply, window_end = service.submit_poster_reply(_db(), data, reply_id=body.get("reply_id"),
                                                            actor=f"api:{api_user().pseudonym}")
        except DecisionRefused as exc:
            _refused(exc)
        return {"id": reply.id, "case_id": reply.case_id, "decision_id": reply.decision_id,
                "objection": reply.objection, "late": reply.late, "received_at": clock.to_jst_iso(reply.received_at),
                "window_ends_at": clock.to_jst_iso(window_end)}


@blp.route("/criteria")
class Criteria(MethodView):
    @blp.response(200, CriteriaSchema)
    def get(self):
        """The deletion criteria in force (public)."""
        with _db().sessions() as session:
            version, clauses = service.criteria_in_force(session, utcnow())
            return {"version": version.version if version else None,
                    "published_at": clock.to_jst_iso(version.published_at) if version else None,
                    "clauses": [{"id": c.clause_id, "title": c.title, "text": c.text, "category": c.category,
                                 "routes": c.routes, "measures": c.measures, "covers_suspension": c.covers_suspension,
                                 "examples": c.examples} for c in clauses]}


@blp.route("/audit/verify")
class Verify(MethodView):
    @require_api_role(CAN_AUDIT)
    @blp.arguments(VerifyQuerySchema, location="query")
    @blp.response(200, VerifyResultSchema)
    def get(self, args):
        """Verify the audit log's keyed hash chain over a period; gives the first broken link. With
        ``head_seq`` and ``head_hash`` (a head published earlier) also names a truncated or rewritten log."""
        if (args["head_seq"] is None) != (args["head_hash"] is None):
            abort(400, message="give head_seq and head_hash together",
                  errors={"query": {"head_hash": ["give head_seq and head_hash together"]}})
        head = (args["head_seq"], args["head_hash"]) if args["head_seq"] is not None else None
        with _db().sessions() as session:
            return service.verify_chain(session, args.get("from_"), args.get("to"), published_head=head)
