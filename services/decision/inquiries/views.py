"""Posters' replies to opinion inquiries, handed in through the JSON API by the SNS."""
from __future__ import annotations

from flask.views import MethodView

from shared import clock
from shared.web import ApiBlueprint
from services.decision.errors import DecisionRefused
from services.decision.inquiries import service
from services.decision.inquiries.schemas import PosterReplyInSchema, PosterReplyOutSchema
from services.decision.pages import current_db, refused
from services.decision.users.auth import api_user, require_api_role
from services.decision.users.roles import CAN_HAND_IN_REPLIES

blp = ApiBlueprint("inquiries_api", __name__, url_prefix="/v1", description="Posters' replies to inquiries")


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
            reply, window_end = service.submit_poster_reply(current_db(), data, reply_id=body.get("reply_id"),
                                                            actor=f"api:{api_user().pseudonym}")
        except DecisionRefused as exc:
            refused(exc)
        return {"id": reply.id, "case_id": reply.case_id, "decision_id": reply.decision_id,
                "objection": reply.objection, "late": reply.late, "received_at": clock.to_jst_iso(reply.received_at),
                "window_ends_at": clock.to_jst_iso(window_end)}
