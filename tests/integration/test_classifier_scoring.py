"""The classifier's handler scores a batch once in effect: a batch that holds the same event
twice, a redelivered batch and a report already scored under another event each leave one score
and one ``report.scored`` in the outbox; the model runs once per distinct post text."""
import sqlalchemy as sa

from shared.events import REPORT_SCORED

from services.classifier.inference import AbuseClassifier
from services.classifier.models import Outbox, Score
from services.classifier.service import DistinctPostScorer, score_received_reports
from tests.integration.test_decision_service import received
from tests.support.databases import make_runtime


def test_a_batch_with_repeats_and_redeliveries_scores_each_report_once(db_url, tiny_model):
    runtime = make_runtime("classifier", db_url)
    scorer = DistinctPostScorer(AbuseClassifier(tiny_model))
    hot = [received(case_id="c-hot", kind="report", reporter=f"r{i}") for i in range(5)]
    other = received(case_id="c-other", kind="report", reporter="r9")
    batch = hot + [other, hot[0]]  # the same event twice in one batch, as a redelivery can bring
    assert score_received_reports(runtime.db, scorer, batch) == 6
    assert score_received_reports(runtime.db, scorer, batch) == 0  # redelivered: nothing new

    with runtime.db.sessions() as s:
        scores = {row.report_id: row for row in s.scalars(sa.select(Score))}
        staged = list(s.scalars(sa.select(Outbox.event_type).where(Outbox.event_type == REPORT_SCORED.name)))
    assert set(scores) == {env.data["report_id"] for env in hot + [other]}
    assert len(staged) == 6
    assert {scores[env.data["report_id"]].case_id for env in hot} == {"c-hot"}
    texts = {env.data["post"]["text"] for env in hot + [other]}
    assert scorer.model_runs == len(texts)
