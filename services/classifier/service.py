"""Classifier's service layer: score a batch of received reports once each and stage the
``report.scored`` events."""
from __future__ import annotations

from shared.db import Database, utcnow
from shared.events import REPORT_SCORED, Envelope, make_event, stable_id
from shared.outbox import claim_inbox, stage
from services.classifier.models import Inbox, Outbox, Score

SOURCE = "/modq/classifier"
CONSUMER = "score-reports"
MAX_ID_CHARS = 64  # the scores table's keys, as every service's (the event schema sets no limit)


class UnscorableReport(ValueError):
    """A ``report.received`` this service cannot score although its envelope is valid. The
    consumer retries it, then parks it (``python -m services.classifier parked``)."""


def check_scorable(env: Envelope) -> None:
    """Refuse what the scores table cannot hold before the model runs, with the field and the
    reason (PostgreSQL would refuse it at the insert, SQLite would silently keep it)."""
    for name in ("report_id", "case_id"):
        value = env.data[name]
        if len(value) > MAX_ID_CHARS:
            raise UnscorableReport(f"{name}: {len(value)} characters, at most {MAX_ID_CHARS}")


def score_received_reports(db: Database, classifier, envelopes: list[Envelope]) -> int:
    """Score every new report in one model call and record scores + events in one transaction.

    Redelivered events (already in the inbox) are skipped, so a report is scored once in effect.
    """
    with db.unit_of_work() as uow:
        fresh = [e for e in envelopes if claim_inbox(uow.session, Inbox, CONSUMER, e)]
        if not fresh:
            uow.commit()
            return 0
        for env in fresh:
            check_scorable(env)
        results = classifier.score([e.data["post"]["text"] for e in fresh])
        now = utcnow()
        for env, result in zip(fresh, results):
            report_id = env.data["report_id"]
            if uow.session.get(Score, report_id) is not None:
                continue
            score = Score(report_id=report_id, case_id=env.data["case_id"], score=float(result["score"]),
                          categories={k: float(v) for k, v in result["categories"].items()},
                          model_version=result["model_version"], scored_at=now)
            uow.session.add(score)
            stage(uow.session, Outbox, scored_event(score), REPORT_SCORED.topic, key=score.case_id)
        uow.commit()
        return len(fresh)


def scored_event(score: Score) -> Envelope:
    return make_event(
        REPORT_SCORED, source=SOURCE, subject=score.case_id, id=stable_id("report.scored", score.report_id),
        data={"report_id": score.report_id, "case_id": score.case_id, "score": score.score,
              "categories": score.categories, "model_version": score.model_version,
              "scored_at": score.scored_at.isoformat()},
    )
