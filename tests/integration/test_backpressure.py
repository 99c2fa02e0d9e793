"""When intake accepts more than the classifier scores: against the real broker, with the
decision service's consumer running and the classifier's not (a classifier that has fallen
behind), every received report is already on its case in the queue, unscored, a new deletion
request with its §25 deadline and a priority the deadline drives; the classifier's lag is every
report sent. When the classifier comes back (its own worker, a tiny model) the lag drains to 0,
every report is scored once and the scores reach the queue."""
import datetime as dt
import os
import threading

import pytest
import sqlalchemy as sa
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from shared import clock
from shared.events import REPORT_RECEIVED, REPORT_SCORED
from services.classifier.models import Score
from services.classifier.worker import build_worker
from services.decision.cases import projection
from services.decision.cases import service as case_service
from services.decision.cases.models import Case, CaseReport
from tests.integration.test_decision_service import received, scored
from tests.integration.test_parked_events import run_consumer, wait_for
from tests.support.databases import make_runtime

pytestmark = pytest.mark.broker

ORDINARY_CASES, REPORTS_PER_CASE = 10, 3


def lag(bootstrap: str, group: str, ends: dict) -> int:
    """Messages on reports.received the classifier's group has not committed past."""
    probe = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    try:
        return sum(end - (probe.committed(TopicPartition(REPORT_RECEIVED.topic, p)) or 0) for p, end in ends.items())
    finally:
        probe.close()


def queue(decision) -> list[tuple[str, float]]:
    with decision.db.sessions() as s:
        return [(c.id, c.priority) for c in case_service.queue(s, limit=100)]


def unscored(decision) -> int:
    with decision.db.sessions() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(CaseReport).where(CaseReport.score.is_(None)))


def test_reports_wait_for_their_scores_on_their_cases_and_requests_keep_their_deadline(
        broker, topics, decision, tmp_path, tiny_model, monkeypatch):
    # Before the storm the classifier had scored one case high; then it stopped keeping up.
    earlier = received(case_id="c-scored", kind="report", reporter="r-early")
    stream = [earlier, *(received(case_id=f"c-{i}", kind="report", reporter=f"r-{i}-{n}")
                         for n in range(REPORTS_PER_CASE) for i in range(ORDINARY_CASES))]
    request = received(case_id="c-request", kind="deletion_request", reporter="req-1")
    stream.append(request)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    ends: dict[int, int] = {}
    for env in stream:
        meta = producer.send(REPORT_RECEIVED.topic, key=env.subject.encode(), value=env.to_json()).get(timeout=30)
        ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    producer.send(REPORT_SCORED.topic, key=b"c-scored", value=scored(earlier.data["report_id"], "c-scored").to_json())
    producer.flush()

    suffix = os.environ["MODQ_CONSUMER_GROUP_SUFFIX"]  # fresh groups per test (the topics fixture)
    group = "modq-classifier" + suffix  # the classifier worker's group
    decision_consumer, decision_thread = run_consumer(decision, "modq-decision" + suffix)
    try:
        assert wait_for(lambda: len(queue(decision)) == ORDINARY_CASES + 2 and unscored(decision) == len(stream) - 1)
        assert lag(broker.bootstrap, group, ends) == len(stream)  # nothing scored, nothing lost

        order = queue(decision)
        with decision.db.sessions() as s:
            case = s.get(Case, "c-request")
            assert (case.score, case.request_count) == (None, 1)
            assert case.next_deadline_at == clock.parse_instant(request.data["deadline_at"])
        # Ordered without its score: above every unscored report (the waiting request counts
        # 10), below the case scored before the storm until its deadline comes near.
        assert [cid for cid, _ in order[:2]] == ["c-scored", "c-request"], order
        assert 10 < dict(order)["c-request"] < 15 and all(p < 5 for cid, p in order[2:])
        # A day before its deadline it is at risk and tops the queue, still unscored.
        projection.refresh_clocks(decision.db, now=case.next_deadline_at - dt.timedelta(hours=12))
        order = queue(decision)
        assert order[0][0] == "c-request" and order[0][1] >= 100, order

        # The classifier comes back: its lag drains, each report is scored once, the queue has them.
        monkeypatch.setenv("MODQ_CLASSIFIER_MODEL", str(tiny_model))
        classifier = make_runtime("classifier", f"sqlite:///{tmp_path / 'classifier.db'}")
        worker = build_worker(classifier)
        threads = [threading.Thread(target=worker.consumers[0].run_forever, daemon=True),
                   threading.Thread(target=worker.relay.run_forever, daemon=True)]
        for t in threads:
            t.start()
        try:
            assert wait_for(lambda: unscored(decision) == 0, 60), unscored(decision)
            assert lag(broker.bootstrap, group, ends) == 0
        finally:
            worker.stop()
            for t in threads:
                t.join(10)
    finally:
        decision_consumer.stop()
        decision_thread.join(10)
    with classifier.db.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Score)) == len(stream)
    with decision.db.sessions() as s:
        case = s.get(Case, "c-request")
        assert case.score is not None and case.next_deadline_at == clock.parse_instant(request.data["deadline_at"])
