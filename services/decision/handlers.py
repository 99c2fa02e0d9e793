"""What the decision worker does with each event it consumes: one handler per event type, each
under its own inbox consumer name so that a redelivered event is applied once."""
from __future__ import annotations

from sqlalchemy.orm import Session

from shared.db import Database
from shared.events import ALERT, INQUIRY_DELIVERED, POSTER_REPLY, REPORT_RECEIVED, REPORT_SCORED, Envelope
from shared.outbox import claim_inbox
from shared.parking import hold_pending
from services.decision.cases.projection import (SCORES_CONSUMER, apply_score, apply_waiting_scores, on_alert,
                                                on_report_received)
from services.decision.inquiries.service import on_inquiry_delivered, on_poster_reply
from services.decision.models import Inbox, ParkedEvent


def project_report(session: Session, env: Envelope) -> None:
    """A new report, and the scores that overtook it on their own topic."""
    on_report_received(session, env)
    apply_waiting_scores(session, env.data["report_id"])


HANDLERS = {
    REPORT_RECEIVED.name: ("project-reports", project_report),
    ALERT.name: ("alerts", on_alert),
    INQUIRY_DELIVERED.name: ("inquiries-delivered", on_inquiry_delivered),
    POSTER_REPLY.name: ("poster-replies", on_poster_reply),
}
# Scores are not in HANDLERS: one may arrive before its report and is then held, not applied.
EVENT_TYPES = (*HANDLERS, REPORT_SCORED.name)
TOPICS = (REPORT_RECEIVED.topic, REPORT_SCORED.topic, ALERT.topic, INQUIRY_DELIVERED.topic, POSTER_REPLY.topic)


def handle_events(db: Database, envelopes: list[Envelope]) -> None:
    """One transaction per batch: the inbox, the cases and the held scores commit together."""
    with db.unit_of_work() as uow:
        for env in envelopes:
            entry = HANDLERS.get(env.type)
            if entry is None:
                continue
            consumer, handler = entry
            if claim_inbox(uow.session, Inbox, consumer, env):
                handler(uow.session, env)
        # A score that overtook its report (they travel on different topics) is held until the
        # report arrives rather than holding up the partition.
        early = [(env, f"report:{env.data['report_id']}") for env in envelopes
                 if env.type == REPORT_SCORED.name and not apply_score(uow.session, env)]
        hold_pending(uow.session, ParkedEvent, SCORES_CONSUMER, early)
        uow.commit()
