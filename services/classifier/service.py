"""Classifier's service layer: score a batch of received reports once each and stage the
``report.scored`` events."""
from __future__ import annotations

from collections import OrderedDict

import sqlalchemy as sa

from shared.db import Database, utcnow
from shared.events import REPORT_SCORED, Envelope, make_event, stable_id
from shared.outbox import claim_inbox_many, stage_many
from services.classifier.models import Inbox, Outbox, Score

SOURCE = "/modq/classifier"
CONSUMER = "score-reports"
MAX_ID_CHARS = 64  # the scores table's keys, as every service's (the event schema sets no limit)


class UnscorableReport(ValueError):
    """A ``report.received`` this service cannot score although its envelope is valid. The
    consumer retries it, then parks it (``python -m services.classifier parked``)."""


class DistinctPostScorer:
    """Runs the model once per distinct post text. In a 炎上 thousands of reports carry the same
    post, so a batch is mostly repeats: the model scores each distinct text of a batch once, and
    the last ``size`` results are kept (the model is deterministic, so a kept result is the
    result). Keyed by the model version too, so a reloaded model never serves an old score."""

    def __init__(self, classifier, size: int = 4096):
        self.classifier, self.size = classifier, size
        self._kept: OrderedDict[tuple[str, str], dict] = OrderedDict()
        self.model_runs = 0

    def score(self, texts: list[str]) -> list[dict]:
        version = self.classifier.version
        missing = list(dict.fromkeys(t for t in texts if (version, t) not in self._kept))
        if missing:
            self.model_runs += len(missing)
            for text, result in zip(missing, self.classifier.score(missing)):
                self._kept[(version, text)] = result
        out = []
        for text in texts:
            self._kept.move_to_end((version, text))
            out.append(dict(self._kept[(version, text)]))
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return out


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
    One look-up each for the inbox, the scores and the outbox per batch, and the rows inserted
    together: in a 炎上 the model runs once per post (DistinctPostScorer) and these statements
    are most of the cost of a report.
    """
    with db.unit_of_work() as uow:
        session = uow.session
        fresh = claim_inbox_many(session, Inbox, [(CONSUMER, env) for env in envelopes])
        if not fresh:
            uow.commit()
            return 0
        for env in fresh:
            check_scorable(env)
        results = classifier.score([e.data["post"]["text"] for e in fresh])
        now = utcnow()
        known = set(session.scalars(sa.select(Score.report_id).where(
            Score.report_id.in_({env.data["report_id"] for env in fresh}))))
        staged = []
        for env, result in zip(fresh, results):
            report_id = env.data["report_id"]
            if report_id in known:
                continue
            known.add(report_id)
            score = Score(report_id=report_id, case_id=env.data["case_id"], score=float(result["score"]),
                          categories={k: float(v) for k, v in result["categories"].items()},
                          model_version=result["model_version"], scored_at=now)
            session.add(score)
            staged.append((scored_event(score), REPORT_SCORED.topic, score.case_id))
        stage_many(session, Outbox, staged)
        uow.commit()
        return len(fresh)


def scored_event(score: Score) -> Envelope:
    return make_event(
        REPORT_SCORED, source=SOURCE, subject=score.case_id, id=stable_id("report.scored", score.report_id),
        data={"report_id": score.report_id, "case_id": score.case_id, "score": score.score,
              "categories": score.categories, "model_version": score.model_version,
              "scored_at": score.scored_at.isoformat()},
    )
