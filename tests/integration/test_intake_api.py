"""Intake's HTTP API against a real database (SQLite and PostgreSQL)."""
import json
import time

import pytest
import sqlalchemy as sa

from tests.support.databases import make_runtime
from tests.support.helpers import report_body, signed


@pytest.fixture
def intake(db_url):
    from services.intake.app import create_app

    runtime = make_runtime("intake", db_url)
    app = create_app(runtime)
    app.testing = True
    return app.test_client(), runtime


def count(runtime, table):
    with runtime.db.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def post(client, body, **kw):
    raw, headers = signed(body, **kw)
    return client.post("/v1/reports", data=raw, headers=headers)


def test_report_is_accepted_and_staged_in_the_outbox(intake):
    client, runtime = intake
    resp = post(client, report_body(), key="k1")
    assert resp.status_code == 202, resp.get_json()
    body = resp.get_json()
    assert body["received_at"].endswith("+09:00")
    assert body["treated_as"] == "report" and body["deadline_at"] is None
    assert count(runtime, "reports") == 1 and count(runtime, "outbox") == 1


def test_deletion_request_gets_a_deadline_and_case_grouping(intake):
    client, runtime = intake
    first = post(client, report_body("deletion_request", post_id="p1", reporter_id="a", rights_holder=True)).get_json()
    second = post(client, report_body("report", post_id="p1", reporter_id="b")).get_json()
    assert first["case_id"] == second["case_id"]
    assert first["treated_as"] == "deletion_request" and first["deadline_at"].endswith("23:59:59+09:00")
    repeat = post(client, report_body("deletion_request", post_id="p1", reporter_id="a", rights_holder=True)).get_json()
    assert repeat["is_repeat"] is True and repeat["report_id"] != first["report_id"]


def test_request_from_a_non_rights_holder_is_handled_as_a_report(intake):
    client, _ = intake
    body = post(client, report_body("deletion_request", rights_holder=False)).get_json()
    assert body["treated_as"] == "report" and "通報として扱います" in body["note"]


def test_same_idempotency_key_returns_the_same_result(intake):
    client, runtime = intake
    body = report_body()
    a = post(client, body, key="same").get_json()
    b = post(client, body, key="same").get_json()
    assert a == b and count(runtime, "reports") == 1


@pytest.mark.parametrize("tamper", ["unsigned", "bad", "stale", "unknown"])
def test_unauthenticated_requests_get_401_and_store_nothing(intake, tamper):
    client, runtime = intake
    raw, headers = signed(report_body(), timestamp=int(time.time()) - 3600 if tamper == "stale" else None)
    if tamper == "unsigned":
        headers = {"Content-Type": "application/json"}
    elif tamper == "bad":
        headers["X-Modq-Signature"] = "v1=" + "ab" * 32
    elif tamper == "unknown":
        headers["X-Modq-Client"] = "intruder"
    resp = client.post("/v1/reports", data=raw, headers=headers)
    assert resp.status_code == 401 and resp.get_json()["error"]
    assert count(runtime, "reports") == 0


def test_replayed_request_gets_401(intake):
    client, runtime = intake
    raw, headers = signed(report_body())
    assert client.post("/v1/reports", data=raw, headers=headers).status_code == 202
    again = client.post("/v1/reports", data=raw, headers=headers)
    assert again.status_code == 401 and "replayed" in again.get_json()["error"]
    assert count(runtime, "reports") == 1


def test_malformed_json_is_400_with_the_reason(intake):
    client, runtime = intake
    raw, headers = signed(b'{"kind": "report", ')
    resp = client.post("/v1/reports", data=raw, headers=headers)
    assert resp.status_code == 400 and "error" in resp.get_json()
    assert count(runtime, "reports") == 0


def test_invalid_fields_are_listed(intake):
    client, runtime = intake
    body = report_body(kind="complaint")
    body["post"]["url"] = "javascript:alert(1)"
    body["post"]["posted_at"] = "2999-01-01T00:00:00+09:00"
    resp = post(client, body)
    assert resp.status_code == 400
    fields = json.dumps(resp.get_json()["fields"])
    assert "kind" in fields and "url" in fields and "posted_at" in fields
    assert count(runtime, "reports") == 0


def test_oversized_body_is_413(intake):
    client, _ = intake
    raw, headers = signed(b"{" + b" " * (300 * 1024) + b"}")
    assert client.post("/v1/reports", data=raw, headers=headers).status_code == 413


def test_healthz_reports_database_and_broker(intake, monkeypatch):
    client, _ = intake
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    resp = client.get("/healthz")
    # the broker in this runtime was configured at creation; either way the body is JSON
    assert resp.status_code in (200, 503) and resp.get_json()["checks"]["database"] == "ok"


def test_openapi_is_served(intake):
    client, _ = intake
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1") and "/v1/reports" in spec["paths"]


def test_a_request_for_another_right_on_the_same_post_is_not_a_repeat(intake):
    """§25(1) proviso: only 同一の内容の申出 (same person, same post, same right) is a repeat."""
    client, _ = intake
    ask = lambda right: post(client, report_body("deletion_request", post_id="p9", reporter_id="a",  # noqa: E731
                                                  rights_holder=True, right_infringed=right)).get_json()
    assert ask("名誉権")["is_repeat"] is False
    assert ask("プライバシー")["is_repeat"] is False
    assert ask("名誉権")["is_repeat"] is True
    assert ask(" 名誉権 ")["is_repeat"] is True
