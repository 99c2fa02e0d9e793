"""Classifier's worker: consume received reports in batches, score them, publish scores.

A report it cannot score is parked in its ``parked_events`` (Worker.consume gives the consumer
that table's ParkingLot) and dead-lettered; ``python -m services.classifier parked`` handles it."""
from __future__ import annotations

from shared.events import REPORT_RECEIVED
from shared.runtime import Runtime, Worker
from services.classifier.service import DistinctPostScorer, score_received_reports


def build_worker(runtime: Runtime) -> Worker:
    from services.classifier.inference import AbuseClassifier

    # load before consuming: ready only once the model is in memory
    classifier = DistinctPostScorer(AbuseClassifier())
    worker = Worker(runtime)
    worker.consume(group_id="modq-classifier", topics=[REPORT_RECEIVED.topic],
                   handler=lambda batch: score_received_reports(runtime.db, classifier, batch),
                   expected_types=(REPORT_RECEIVED.name,))
    return worker
