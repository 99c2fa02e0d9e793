"""What the decision worker does with each event it consumes: one handler per event type, each
under its own inbox consumer name so that a redelivered event is applied once."""
from __future__ import annotations

from sqlalchemy.orm import Session

from shared.db import Database, utcnow
from shared.events import ALERT, INQUIRY_DELIVERED, POSTER_REPLY, REPORT_RECEIVED, REPORT_SCORED, Envelope
from shared.outbox import claim_inbox_many
from shared.parking import hold_pending
from services.decision.cases.projection import SCORES_CONSUMER, BatchProjection, on_alert
from services.decision.inquiries.service import on_inquiry_delivered, on_poster_reply
from services.decision.models import Inbox, ParkedEvent


def project_report(session: Session, env: Envelope) -> None:
    """A new report, and the scores that overtook it on their own topic (``handle_events``
    applies a batch's reports together, through ``BatchProjection``)."""
    batch = BatchProjection(session, utcnow())
    batch.reports([env])
    batch.finish()


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
    """One transaction per batch: the inbox, the cases and the held scores commit together.

    During a storm a batch is mostly reports and scores on a few cases, so they are applied
    together (docs/performance.md, "Load (storm)"); a run of reports is applied before any other
    event that follows it, so each event still sees what came before it. If the batch fails, the
    consumer hands its events back one at a time (shared/kafka.py) and the bad one is parked."""
    with db.unit_of_work() as uow:
        batch = BatchProjection(uow.session, utcnow())
        claims = [(HANDLERS[env.type][0], env) for env in envelopes if env.type in HANDLERS]
        reports: list[Envelope] = []
        for env in claim_inbox_many(uow.session, Inbox, claims):
            if env.type == REPORT_RECEIVED.name:
                reports.append(env)
                continue
            batch.reports(reports)
            reports = []
            HANDLERS[env.type][1](uow.session, env)
        batch.reports(reports)
        # A score that overtook its report (they travel on different topics) is held until the
        # report arrives rather than holding up the partition.
        early = batch.scores([env for env in envelopes if env.type == REPORT_SCORED.name])
        batch.finish()
        hold_pending(uow.session, ParkedEvent, SCORES_CONSUMER,
                     [(env, f"report:{env.data['report_id']}") for env in early])
        uow.commit()
