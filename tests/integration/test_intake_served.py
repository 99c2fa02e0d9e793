"""Intake as deployed: ``python -m services.intake web`` (gunicorn, gevent workers), on SQLite
and PostgreSQL, answering concurrent signed requests over real HTTP."""
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tools.broker import free_port
from tests.support.databases import make_runtime
from tests.support.helpers import in_parallel, report_body, signed
from tests.integration.test_intake_api import count

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def served_intake(db_url):
    runtime = make_runtime("intake", db_url)  # migrated
    port = free_port()
    env = {**os.environ, "MODQ_INTAKE_DATABASE_URL": db_url, "MODQ_INTAKE_PORT": str(port),
           "MODQ_SNS_CLIENTS": "demo:demo-secret", "MODQ_WEB_WORKERS": "2"}
    env.pop("MODQ_WEB_WORKER_CLASS", None)
    proc = subprocess.Popen([sys.executable, "-m", "services.intake", "web"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # /healthz would wait for the broker, which these tests do not start
                if requests.get(f"{base}/openapi.json", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode(errors="replace")
            assert time.monotonic() < deadline, "intake did not start"
            time.sleep(0.2)
        yield base, proc, runtime
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _post(base: str, body: dict, key: str | None = None, session=requests):
    raw, headers = signed(body, key=key)
    return session.post(f"{base}/v1/reports", data=raw, headers=headers, timeout=30)


def test_the_web_command_serves_intake_with_gevent_workers(served_intake):
    _, proc, _ = served_intake
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[cmdline.index(b"--worker-class") + 1] == b"gevent"


def test_concurrent_signed_requests_are_each_stored_once_and_answered(served_intake):
    base, _, runtime = served_intake
    answers, lock = [], threading.Lock()

    def send(n: int) -> None:
        with requests.Session() as session:  # keep-alive, as an SNS backend's client would
            for i in range(8):
                resp = _post(base, report_body(post_id=f"served-{i % 4}"), key=f"c{n}-{i}", session=session)
                with lock:
                    answers.append((resp.status_code, resp.json().get("report_id")))

    in_parallel(send, 16)
    assert [status for status, _ in answers] == [202] * 128
    assert len({report_id for _, report_id in answers}) == 128
    assert count(runtime, "reports") == count(runtime, "outbox") == 128
    assert count(runtime, "cases") == 4


def test_a_repeated_key_and_a_replayed_signature_over_http(served_intake):
    base, _, runtime = served_intake
    body = report_body()
    first = _post(base, body, key="same-key")
    again = _post(base, body, key="same-key")  # signed anew: a client's retry
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    raw, headers = signed(report_body())  # no key: the replayed signature is what decides
    assert requests.post(f"{base}/v1/reports", data=raw, headers=headers, timeout=30).status_code == 202
    replay = requests.post(f"{base}/v1/reports", data=raw, headers=headers, timeout=30)
    assert replay.status_code == 401 and "replayed" in replay.json()["error"]
    assert count(runtime, "reports") == 2


def test_the_api_sets_no_cookie_and_carries_no_form_rate_limit_headers(served_intake):
    base, _, _ = served_intake
    resp = _post(base, report_body(), key="no-cookie")
    assert resp.status_code == 202
    assert "Set-Cookie" not in resp.headers
    assert not [h for h in resp.headers if h.lower().startswith("x-ratelimit")]
    form = requests.get(f"{base}/request", timeout=10)
    assert form.status_code == 200 and "session" in form.cookies  # the form's CSRF token lives there


def test_the_public_form_files_a_request_and_shows_the_receipt(served_intake):
    base, _, runtime = served_intake
    import re

    with requests.Session() as browser:
        html = browser.get(f"{base}/request", timeout=10).text
        data = {name: re.search(rf'name="{name}"[^>]*value="([^"]+)"', html).group(1)
                for name in ("csrf_token", "submission_key")}
        data.update({"post_url": "https://sns.example.jp/posts/42", "post_text": "山田花子は前科者",
                     "posted_at": "2026-06-02T15:00", "right": "名誉権", "reason": "虚偽の前科を書かれています",
                     "role": "self", "name": "山田 花子", "contact": "hanako@example.jp",
                     "request_type": "ordinary"})
        receipt = browser.post(f"{base}/request", data=data, timeout=30)
    assert receipt.status_code == 200 and "<dt>受付日時</dt>" in receipt.text
    with runtime.db.engine.connect() as conn:
        numbers = conn.execute(sa.text("SELECT receipt_number FROM reports WHERE source = 'form'")).scalars().all()
    assert len(numbers) == 1 and f"{numbers[0][:5]}-{numbers[0][5:]}" in receipt.text
