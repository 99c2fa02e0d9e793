"""The thin path across the four services as separate processes, on the real broker:
signed report → classifier → queue → decision → requester and poster notices, read by a
consumer written with confluent-kafka (librdkafka), not kafka-python. Then kill -9 mid-flow."""
from __future__ import annotations

import json
import signal
import time
import uuid

import pytest
import requests as http

from tools.broker import free_port
from tools.devrun import SERVICES, LocalSystem
from tests.support.helpers import report_body, signed

pytestmark = [pytest.mark.e2e, pytest.mark.broker]
AUTH = ("moderator@example.jp", "moderator")


@pytest.fixture(scope="module")
def system(broker, tiny_model, tmp_path_factory):
    suffix = uuid.uuid4().hex[:8]
    from shared.settings import DEFAULT_TOPICS

    topics = {k: f"{v}.{suffix}" for k, v in DEFAULT_TOPICS.items()}
    env = {f"MODQ_TOPIC_{k.upper()}": v for k, v in topics.items()}
    env["MODQ_CONSUMER_GROUP_SUFFIX"] = f".{suffix}"
    env.update({"MODQ_CLASSIFIER_MODEL": str(tiny_model), "MODQ_OUTBOX_POLL_SECONDS": "0.05",
                "MODQ_KAFKA_SESSION_TIMEOUT_MS": "2000", "MODQ_KAFKA_HEARTBEAT_INTERVAL_MS": "500"})
    sys_ = LocalSystem(var_dir=tmp_path_factory.mktemp("var"), ports={s: free_port() for s in SERVICES},
                       bootstrap=broker.bootstrap, extra_env=env, quiet=True)
    sys_.topics = topics
    try:
        sys_.start()
        yield sys_
    finally:
        sys_.stop()


class NoticeReader:
    """Reads notices with confluent-kafka and parses them with the CloudEvents SDK."""

    def __init__(self, bootstrap, topics):
        from confluent_kafka import Consumer

        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"sns-{uuid.uuid4().hex[:6]}",
                                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                                  "heartbeat.interval.ms": 500,
                                  "topic.metadata.refresh.interval.ms": 1000})
        self.consumer.subscribe(topics)
        self.events = []

    def read_until(self, predicate, timeout=60.0):
        from cloudevents.core.formats.json import JSONFormat

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.consumer.poll(0.5)
            if msg is None or msg.error():
                if predicate(self.events):
                    return self.events
                continue
            event = JSONFormat().read(None, msg.value())
            self.events.append({"topic": msg.topic(), "key": msg.key().decode() if msg.key() else None,
                                "id": event.get_id(), "type": event.get_type(), "subject": event.get_subject(),
                                "data": event.get_data()})
            if predicate(self.events):
                return self.events
        raise AssertionError(f"timed out; got {[(e['type'], e['data'].get('notice_type')) for e in self.events]}")

    def close(self):
        self.consumer.close()


def submit(system, body, key=None):
    # a distinct poster per post: the same poster told twice for the same clause is a §27(ii) exception
    body["post"]["author_id"] = f"poster-{uuid.uuid4().hex[:8]}"
    raw, headers = signed(body, key=key or str(uuid.uuid4()))
    resp = http.post(system.url("intake") + "/v1/reports", data=raw, headers=headers, timeout=10)
    assert resp.status_code == 202, resp.text
    return resp.json()


def wait_case(system, case_id, scored=True, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cases = http.get(system.url("decision") + "/v1/cases", params={"limit": 500}, auth=AUTH, timeout=10).json()["cases"]
        found = [c for c in cases if c["id"] == case_id]
        if found and (found[0]["score"] is not None or not scored):
            return found[0]
        time.sleep(0.3)
    raise AssertionError(f"case {case_id} did not reach the queue (scored={scored})")


def decide(system, case_id, measure="remove", clause_id="I-1"):
    claimed = http.post(system.url("decision") + f"/v1/cases/{case_id}/claim", auth=AUTH, timeout=10)
    assert claimed.status_code == 200, claimed.text
    resp = http.post(system.url("decision") + f"/v1/cases/{case_id}/decisions", auth=AUTH, timeout=10,
                     json={"measure": measure, "clause_id": clause_id, "reason": "侮辱に当たるため",
                           "facts": "特定の利用者への人格攻撃"})
    assert resp.status_code == 201, resp.text
    return resp.json()


def notice_types(events, case_id):
    return sorted(e["data"]["notice_type"] for e in events
                  if e["subject"] == case_id and e["type"].startswith("jp.modq.notice."))


def test_all_services_are_healthy(system):
    for service in SERVICES:
        body = http.get(system.url(service) + "/healthz", timeout=5).json()
        assert body["status"] == "ok", body


def test_report_to_notices_through_all_four_services(system):
    reader = NoticeReader(system.bootstrap, [system.topics["notices_requester"], system.topics["notices_poster"]])
    try:
        accepted = submit(system, report_body("deletion_request", rights_holder=True))
        case = wait_case(system, accepted["case_id"])
        assert 0.0 <= case["score"] <= 1.0 and case["request_count"] == 1
        decision = decide(system, case["id"])
        assert decision["clause_id"] == "I-1" and decision["clause_version"] == "2025.1"
        events = reader.read_until(lambda ev: notice_types(ev, case["id"]) == ["ACK", "N1", "N4"])
        by_type = {e["data"]["notice_type"]: e for e in events if e["subject"] == case["id"]}
        assert by_type["ACK"]["topic"] == system.topics["notices_requester"]
        assert by_type["N4"]["topic"] == system.topics["notices_poster"]
        assert by_type["N1"]["key"] == "u-reporter" and by_type["N4"]["key"].startswith("poster-")
        assert "I-1" in by_type["N4"]["data"]["text_ja"]
        assert by_type["N1"]["data"]["request_id"] == accepted["report_id"]
        # the decided case left the open queue
        open_ids = [c["id"] for c in http.get(system.url("decision") + "/v1/cases", auth=AUTH, timeout=10).json()["cases"]]
        assert case["id"] not in open_ids
    finally:
        reader.close()


@pytest.mark.parametrize("victim", ["classifier", "decision", "notifier", "intake"])
def test_kill_9_a_worker_mid_flow_and_the_flow_completes_once(system, victim):
    reader = NoticeReader(system.bootstrap, [system.topics["notices_requester"], system.topics["notices_poster"]])
    try:
        system.kill(victim, "worker", signal.SIGKILL)
        accepted = [submit(system, report_body("deletion_request", rights_holder=True)) for _ in range(3)]
        system.start_process(victim, "worker")
        cases = [wait_case(system, a["case_id"], timeout=90) for a in accepted]
        for case in cases:
            decide(system, case["id"])
        if victim == "notifier":
            system.kill("notifier", "worker", signal.SIGKILL)
            system.start_process("notifier", "worker")
        ids = {c["id"] for c in cases}
        events = reader.read_until(
            lambda ev: all(notice_types(ev, cid)[-3:] and set(notice_types(ev, cid)) == {"ACK", "N1", "N4"}
                           for cid in ids), timeout=90)
        for cid in ids:
            per_type = {}
            for e in events:
                if e["subject"] == cid and e["type"].startswith("jp.modq.notice."):
                    per_type.setdefault(e["data"]["notice_type"], set()).add(e["id"])
            # one notice id per type: a redelivered notice carries the same id (no second effect)
            assert {k: len(v) for k, v in per_type.items()} == {"ACK": 1, "N1": 1, "N4": 1}
        # every report was scored exactly once: one score per report in the case projection
        for case in cases:
            assert case["report_count"] == 1
    finally:
        reader.close()
