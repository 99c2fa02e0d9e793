"""Bad input on POST /v1/reports: every case gets a 4xx with the reason (or 503 when the
database is down), never a 500 or a stack trace, and nothing half written."""
import contextlib
import json
import shutil
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.intake.schemas import MAX_BODY_BYTES, MAX_REASON, MAX_TEXT
from tests.support.databases import drop_pg_database, make_runtime
from tests.support.helpers import report_body, signed
from tests.integration.test_intake_api import count, intake, post  # noqa: F401  (fixture)

TABLES = ("reports", "cases", "used_signatures", "outbox")


@pytest.fixture
def sqlite_intake(tmp_path):
    """Validation happens before the database is touched: one backend is enough."""
    from services.intake.app import create_app

    runtime = make_runtime("intake", f"sqlite:///{tmp_path / 'intake.db'}")
    app = create_app(runtime)
    return app.test_client(), runtime


def send_raw(client, raw: bytes, content_type="application/json"):
    _, headers = signed(raw)
    headers["Content-Type"] = content_type
    return client.post("/v1/reports", data=raw, headers=headers)


def assert_rejected(resp, status, *needles, runtime=None):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert b"Traceback" not in resp.data
    text = json.dumps(resp.get_json(), ensure_ascii=False)
    for needle in needles:
        assert needle in text, text
    if runtime is not None:
        assert all(count(runtime, table) == 0 for table in TABLES)


@pytest.mark.parametrize("raw, reason", [
    (b'{"kind": "report", ', "malformed JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"kind": "\xff\xfe report"}', "not valid UTF-8"),
    (b'\xef\xbb\xbf{"kind": "report"}', "malformed JSON"),   # a byte order mark is not JSON
])
def test_unreadable_bodies_are_400_with_the_reason(sqlite_intake, raw, reason):
    client, runtime = sqlite_intake
    assert_rejected(send_raw(client, raw), 400, reason, runtime=runtime)


def test_a_body_that_is_not_json_is_415(sqlite_intake):
    client, runtime = sqlite_intake
    resp = send_raw(client, b"kind=report", content_type="application/x-www-form-urlencoded")
    assert_rejected(resp, 415, "application/json", runtime=runtime)


def test_missing_required_fields_are_listed_each_with_its_reason(sqlite_intake):
    client, runtime = sqlite_intake
    fields = post(client, {}).get_json()["fields"]["json"]
    assert set(fields) == {"kind", "post", "reporter"}
    assert all(reasons == ["Missing data for required field."] for reasons in fields.values())
    body = report_body("deletion_request")
    del body["post"]["url"], body["reporter"]["id"], body["reason"]
    resp = post(client, body)
    assert_rejected(resp, 400, runtime=runtime)
    fields = resp.get_json()["fields"]["json"]
    assert "url" in fields["post"] and "id" in fields["reporter"] and "reason" in fields


def test_wrong_types_are_listed(sqlite_intake):
    client, runtime = sqlite_intake
    body = report_body()
    body["post"]["text"] = 123
    body["post"]["media"] = "not a list"
    body["reporter"]["is_rights_holder"] = "maybe"
    resp = post(client, body)
    assert_rejected(resp, 400, "Not a valid string.", "Not a valid list.", "Not a valid boolean.", runtime=runtime)
    for not_an_object in (b"[1, 2]", b"null", b'"report"'):
        assert_rejected(send_raw(client, not_an_object), 400, "Invalid input type.", runtime=runtime)


def test_unknown_kind_and_unknown_fields_are_refused(sqlite_intake):
    client, runtime = sqlite_intake
    resp = post(client, report_body(kind="complaint", extra="?"))
    assert_rejected(resp, 400, "Must be one of: report, deletion_request.", "Unknown field.", runtime=runtime)


@pytest.mark.parametrize("where, limit", [("text", MAX_TEXT), ("reason", MAX_REASON)])
def test_text_over_the_documented_limit_is_400(sqlite_intake, where, limit):
    client, runtime = sqlite_intake
    body = report_body()
    if where == "text":
        body["post"]["text"] = "あ" * (limit + 1)
    else:
        body["reason"] = "あ" * (limit + 1)
    assert_rejected(post(client, body), 400, where, f"Longer than maximum length {limit}.", runtime=runtime)
    # exactly at the limit is fine
    if where == "text":
        body["post"]["text"] = "あ" * limit
    else:
        body["reason"] = "あ" * limit
    assert post(client, body).status_code == 202


def test_body_over_the_documented_size_is_413_even_when_validly_signed(sqlite_intake):
    client, runtime = sqlite_intake
    body = report_body()
    body["post"]["text"] = "a" * MAX_BODY_BYTES
    resp = post(client, body)
    assert_rejected(resp, 413, str(MAX_BODY_BYTES), runtime=runtime)


def test_text_that_cannot_be_stored_is_400_not_a_database_error(sqlite_intake):
    client, runtime = sqlite_intake
    body = report_body()
    body["post"]["text"] = "a\u0000b"
    assert_rejected(post(client, body), 400, "NUL", runtime=runtime)
    raw = json.dumps(report_body(), ensure_ascii=True).replace('"\\u5acc', '"\\ud800').encode()
    assert_rejected(send_raw(client, raw), 400, "unpaired surrogate", runtime=runtime)


def test_posted_at_in_the_future_or_without_offset_is_400(sqlite_intake):
    client, runtime = sqlite_intake
    body = report_body()
    body["post"]["posted_at"] = "2999-01-01T00:00:00+09:00"
    assert_rejected(post(client, body), 400, "is in the future", runtime=runtime)
    body["post"]["posted_at"] = "2026-01-01T00:00:00"
    assert_rejected(post(client, body), 400, "UTC offset", runtime=runtime)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://sns.example.jp/p/1", "file:///etc/passwd",
                                 "http://[::1", "https:// example.jp/ x", "sns.example.jp/posts/1"])
def test_non_http_urls_are_400(sqlite_intake, url):
    client, runtime = sqlite_intake
    body = report_body()
    body["post"]["url"] = url
    assert_rejected(post(client, body), 400, "must be an http(s) URL", runtime=runtime)


def test_signature_for_another_body_or_from_the_future_is_401(sqlite_intake):
    client, runtime = sqlite_intake
    raw, headers = signed(report_body())
    tampered = raw.replace(b"u-reporter", b"u-intruder")
    assert_rejected(client.post("/v1/reports", data=tampered, headers=headers), 401, "does not match", runtime=runtime)
    raw, headers = signed(report_body(), timestamp=int(time.time()) + 3600)
    assert_rejected(client.post("/v1/reports", data=raw, headers=headers), 401, "stale", runtime=runtime)


def test_a_failure_midway_writes_nothing_and_is_503_with_retry_after(intake):
    client, runtime = intake
    with _outbox_writes_fail(runtime):
        resp = post(client, report_body("deletion_request", rights_holder=True), key="k-midway")
    assert_rejected(resp, 503, "database unavailable", runtime=runtime)
    assert resp.headers["Retry-After"].isdigit()
    # the client retries with the same key and a new signature: accepted once
    assert post(client, report_body("deletion_request", rights_holder=True), key="k-midway").status_code == 202
    assert count(runtime, "reports") == 1 and count(runtime, "outbox") == 1


@contextlib.contextmanager
def _outbox_writes_fail(runtime):
    """The connection is lost when the event is staged, after the signature, case and report
    rows were written in the same transaction. On PostgreSQL the batch is one statement, so
    the failure comes from inside it (a trigger)."""
    engine = runtime.db.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("""
                CREATE FUNCTION lose_the_connection() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'server closed the connection unexpectedly'; END $$;
                CREATE TRIGGER lose_the_connection BEFORE INSERT ON outbox
                    FOR EACH ROW EXECUTE FUNCTION lose_the_connection();""")
        try:
            yield
        finally:
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP TRIGGER lose_the_connection ON outbox; DROP FUNCTION lose_the_connection();")
        return

    def lose_the_connection(conn, cursor, statement, *_):
        if "INSERT INTO OUTBOX" in statement.upper():
            raise sa.exc.OperationalError(statement, {}, Exception("server closed the connection unexpectedly"))

    sa.event.listen(engine, "before_cursor_execute", lose_the_connection)
    try:
        yield
    finally:
        sa.event.remove(engine, "before_cursor_execute", lose_the_connection)


def test_a_database_that_is_gone_is_503_with_retry_after(db_url, tmp_path):
    from services.intake.app import create_app

    runtime = make_runtime("intake", db_url)
    client = create_app(runtime).test_client()
    assert post(client, report_body()).status_code == 202
    if db_url.startswith("sqlite"):
        path = Path(db_url.split("///", 1)[1])
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()
        path.mkdir()  # a directory where the database file was: SQLite cannot open it
    else:
        drop_pg_database(db_url)
    runtime.db.engine.dispose()
    resp = post(client, report_body(), key="k-gone")
    assert_rejected(resp, 503, "database unavailable")
    assert int(resp.headers["Retry-After"]) > 0
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["checks"]["database"] == "down"
    if db_url.startswith("sqlite"):
        shutil.rmtree(path)


@pytest.mark.broker
def test_a_broker_that_is_down_still_gets_202_and_the_event_waits_in_the_outbox(db_url, broker, topics, monkeypatch):
    from services.intake.app import create_app
    from shared.kafka import make_producer
    from shared.outbox import OutboxRelay
    from shared.settings import KafkaSettings
    from tests.integration.test_outbox_and_consumers import read_all

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    runtime = make_runtime("intake", db_url)
    client = create_app(runtime).test_client()
    resp = post(client, report_body("deletion_request", rights_holder=True), key="k-broker-down")
    assert resp.status_code == 202 and resp.get_json()["deadline_at"]
    assert runtime.outbox_backlog() == 1
    # the broker is back: the relay publishes the waiting event
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap)
    producer = make_producer(KafkaSettings.from_env(), "test-intake")
    try:
        assert OutboxRelay(runtime.db, runtime.outbox_model, producer).publish_pending() == 1
    finally:
        producer.close()
    assert runtime.outbox_backlog() == 0
    records = read_all(broker.bootstrap, topics["reports_received"], 1)
    assert json.loads(records[0].value)["data"]["report_id"] == resp.get_json()["report_id"]


def test_openapi_documents_the_limits_and_examples(sqlite_intake):
    client, _ = sqlite_intake
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    operation = spec["paths"]["/v1/reports"]["post"]
    assert str(MAX_BODY_BYTES) in operation["requestBody"]["description"]
    assert operation["requestBody"]["content"]["application/json"]["example"]["kind"] == "deletion_request"
    assert {"202", "400", "401", "413", "415", "503"} <= set(operation["responses"])
    assert "example" in operation["responses"]["202"]["content"]["application/json"]
    post_schema = json.dumps(spec["components"]["schemas"], ensure_ascii=False)
    assert f"at most {MAX_TEXT} characters" in post_schema


# --- the 2-day window is not the requester's choice (§4, AV law §16) -------------------------

@pytest.mark.parametrize("over", [
    {"request_type": "election", "right_infringed": "プライバシー"},
    {"request_type": "av_performer", "kind": "report", "right_infringed": None},
])
def test_short_window_request_type_needs_its_conditions(over):
    from marshmallow import ValidationError

    from services.intake.schemas import ReportSubmissionSchema
    from tests.support.helpers import report_body

    body = {**report_body("deletion_request", rights_holder=True), **over}
    with pytest.raises(ValidationError) as caught:
        ReportSubmissionSchema().load(body)
    assert "request_type" in caught.value.messages
    ReportSubmissionSchema().load(report_body("deletion_request", rights_holder=True, request_type="election"))
