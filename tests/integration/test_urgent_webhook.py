"""The urgent-case webhook against a real HTTP server on a free port (SQLite and PostgreSQL):
the projection stages one alert per case in its own transaction, the periodic job delivers it
once, signed, retries after a 500 with backoff, and a dead or slow receiver costs one short
attempt, never the worker. The alert carries no post text and no personal data."""
import datetime as dt
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from shared.clock import s25_deadline
from shared.events import REPORT_RECEIVED, REPORT_SCORED, make_event, parse_event
from shared.settings import InsecureSetting
from services.decision import handlers
from services.decision.alerts import domain
from services.decision.alerts.models import UrgentAlert
from services.decision.alerts.service import deliver_due
from services.decision.cases.projection import refresh_clocks

UTC = dt.timezone.utc
SECRET = "webhook-test-secret-0123456789"
POST_TEXT = "明日駅前で刺してやる"


class Receiver:
    """A webhook receiver: records each request and answers with the next scripted status."""

    def __init__(self):
        self.requests, self.statuses, self.delay = [], [], 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/hooks/modq"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.http.shutdown()
        self.thread.join(5)


@pytest.fixture
def receiver(monkeypatch):
    receiver = Receiver()
    monkeypatch.setenv("MODQ_URGENT_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("MODQ_URGENT_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("MODQ_DECISION_PUBLIC_URL", "https://mod.example.jp")
    yield receiver
    receiver.close()


def report(case_id, *, kind="report", hours_ago=1.0, reporter="u-rep"):
    received_at = dt.datetime.now(UTC) - dt.timedelta(hours=hours_ago)
    return make_event(REPORT_RECEIVED, source="/t", subject=case_id, data={
        "report_id": str(uuid.uuid4()), "case_id": case_id, "kind": kind, "treated_as": kind,
        "received_at": received_at.isoformat(),
        "deadline_at": s25_deadline(received_at).isoformat() if kind == "deletion_request" else None,
        "post": {"id": f"p-{case_id}", "url": f"https://sns.example.jp/posts/{case_id}", "author_id": "u-poster-77",
                 "text": POST_TEXT, "posted_at": received_at.isoformat(), "media": []},
        "reporter": {"id": reporter, "is_rights_holder": True, "contact": "mail:someone@example.jp"},
        "reason": "怖い", "right_infringed": "生命・身体"})


def scored(event, category, score):
    return make_event(REPORT_SCORED, source="/t", subject=event.data["case_id"], data={
        "report_id": event.data["report_id"], "case_id": event.data["case_id"], "score": score,
        "categories": {category: score, "none": round(1 - score, 3)}, "model_version": "tiny-1",
        "scored_at": dt.datetime.now(UTC).isoformat()})


def feed(runtime, *events):
    handlers.handle_events(runtime.db, [parse_event(e.to_json()) for e in events])


def alerts(runtime):
    with runtime.db.sessions() as s:
        return {a.case_id: a for a in s.scalars(sa.select(UrgentAlert))}


def test_a_threat_is_alerted_once_signed_and_without_post_text_or_personal_data(decision, receiver):
    threat, mild = report("c-threat"), report("c-mild")
    feed(decision, threat, scored(threat, "threat", 0.95), mild, scored(mild, "insult", 0.4))
    assert set(alerts(decision)) == {"c-threat"}
    assert deliver_due(decision.db) == {"delivered": 1, "failed": 0}
    assert deliver_due(decision.db) == {"delivered": 0, "failed": 0}
    again = report("c-threat", reporter="u-rep-2")  # still urgent: no second alert
    feed(decision, again, scored(again, "threat", 0.97))
    assert deliver_due(decision.db, now=dt.datetime.now(UTC) + dt.timedelta(days=1))["delivered"] == 0
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert domain.verify(SECRET, headers[domain.SIGNATURE_HEADER], body)
    assert not domain.verify("another-secret-0123456789", headers[domain.SIGNATURE_HEADER], body)
    assert not domain.verify(SECRET, headers[domain.SIGNATURE_HEADER], body.replace(b"c-threat", b"c-other"))
    alert = json.loads(body)
    assert alert["case_id"] == alert["id"] == "c-threat" and alert["reason"] == "threat"
    assert alert["category"] == "threat" and alert["priority"] > 0
    assert alert["case_url"] == "https://mod.example.jp/cases/c-threat"
    assert alert["became_urgent_at"].endswith("+09:00") and alert["deadline_at"] is None
    text = body.decode()
    for private in (POST_TEXT, "u-poster-77", "u-rep", "someone@example.jp", "sns.example.jp", "怖い"):
        assert private not in text
    row = alerts(decision)["c-threat"]
    assert row.delivered_at is not None and row.attempts == 1 and row.last_error is None


def test_a_500_is_retried_after_the_backoff_then_delivered_once(decision, receiver):
    near = report("c-deadline", kind="deletion_request", hours_ago=24 * 7)  # deadline inside the window
    feed(decision, near)
    receiver.statuses = [500]
    now = dt.datetime.now(UTC)
    assert deliver_due(decision.db, now=now) == {"delivered": 0, "failed": 1}
    row = alerts(decision)["c-deadline"]
    assert row.reason == "at_risk" and row.attempts == 1 and row.last_error == "HTTP 500"
    assert row.delivered_at is None and row.next_attempt_at > now + dt.timedelta(seconds=20)
    assert deliver_due(decision.db, now=now + dt.timedelta(seconds=5))["delivered"] == 0  # not due yet
    assert deliver_due(decision.db, now=now + dt.timedelta(minutes=2)) == {"delivered": 1, "failed": 0}
    assert deliver_due(decision.db, now=now + dt.timedelta(hours=2))["delivered"] == 0
    assert len(receiver.requests) == 2 and receiver.requests[0][1] == receiver.requests[1][1]
    assert json.loads(receiver.requests[1][1])["deadline_at"].endswith("+09:00")
    row = alerts(decision)["c-deadline"]
    assert row.attempts == 2 and row.delivered_at is not None and row.next_attempt_at is None


def test_a_case_that_becomes_urgent_as_its_clock_runs_is_alerted_by_the_clock_refresh(decision, receiver, monkeypatch):
    feed(decision, report("c-later", kind="deletion_request", hours_ago=24 * 4))
    assert alerts(decision) == {}
    monkeypatch.setenv("MODQ_S25_WARNING_HOURS", str(24 * 4))  # the window now reaches its deadline
    refresh_clocks(decision.db)
    assert set(alerts(decision)) == {"c-later"}


def test_a_dead_or_slow_receiver_costs_one_short_attempt(decision, receiver, monkeypatch):
    for n in range(3):
        threat = report(f"c-t{n}")
        feed(decision, threat, scored(threat, "threat", 0.9))
    monkeypatch.setenv("MODQ_URGENT_WEBHOOK_TIMEOUT_SECONDS", "0.5")
    receiver.delay = 3.0
    started = time.monotonic()
    assert deliver_due(decision.db) == {"delivered": 0, "failed": 1}  # the pass stops at the first failure
    assert time.monotonic() - started < 2.5
    assert sorted(a.attempts for a in alerts(decision).values()) == [0, 0, 1]
    assert "Timeout" in [a for a in alerts(decision).values() if a.attempts][0].last_error
    receiver.delay = 0.0
    monkeypatch.setenv("MODQ_URGENT_WEBHOOK_URL", "http://127.0.0.1:9/unreachable")
    later = dt.datetime.now(UTC) + dt.timedelta(minutes=5)
    assert deliver_due(decision.db, now=later) == {"delivered": 0, "failed": 1}


def test_off_by_default_and_plain_http_refused_outside_development(decision, monkeypatch):
    monkeypatch.delenv("MODQ_URGENT_WEBHOOK_URL", raising=False)
    threat = report("c-quiet")
    feed(decision, threat, scored(threat, "threat", 0.95))
    assert alerts(decision) == {} and domain.webhook_settings() is None
    monkeypatch.setenv("MODQ_DEV_MODE", "0")
    monkeypatch.setenv("MODQ_URGENT_WEBHOOK_URL", "http://hooks.example.jp/modq")
    with pytest.raises(InsecureSetting, match="https"):
        domain.webhook_settings()
    monkeypatch.setenv("MODQ_URGENT_WEBHOOK_URL", "https://hooks.example.jp/modq")
    assert domain.webhook_settings().url == "https://hooks.example.jp/modq"
    monkeypatch.setenv("MODQ_URGENT_WEBHOOK_URL", "ftp://hooks.example.jp/modq")
    with pytest.raises(InsecureSetting):
        domain.webhook_settings()
