"""GET /v1/notices and /v1/notices/stats show personal data: bearer token or 401."""
import pytest

from services.notifier.app import create_app
from services.notifier.config import DEV_API_TOKEN
from tests.support.databases import make_runtime
from tests.integration.test_notifier_service import decision_event, feed, request_event


@pytest.fixture
def client(db_url, monkeypatch):
    monkeypatch.setenv("MODQ_NOTIFIER_API_TOKENS", "token-a, token-b")
    runtime = make_runtime("notifier", db_url)
    a, repeat = request_event(), request_event(is_repeat=True)
    feed(runtime, a, repeat, decision_event([a, repeat]))
    return create_app(runtime).test_client()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/v1/notices", "/v1/notices/stats"])
@pytest.mark.parametrize("headers", [{}, bearer("wrong"), {"Authorization": "Basic dG9rZW4tYTo="},
                                     {"Authorization": "Bearer "}, bearer(DEV_API_TOKEN)])
def test_without_a_valid_token_the_answer_is_401(client, path, headers):
    resp = client.get(path, headers=headers)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert "text_ja" not in resp.get_data(as_text=True)


def test_every_configured_token_works_and_probes_stay_open(client):
    for token in ("token-a", "token-b"):
        assert client.get("/v1/notices", headers=bearer(token)).status_code == 200
    assert client.get("/metrics").status_code == 200


def test_development_token_is_the_default(db_url, monkeypatch):
    monkeypatch.delenv("MODQ_NOTIFIER_API_TOKENS", raising=False)
    app = create_app(make_runtime("notifier", db_url))
    assert app.test_client().get("/v1/notices", headers=bearer(DEV_API_TOKEN)).status_code == 200


def test_notices_and_exceptions_are_listed(client):
    body = client.get("/v1/notices", headers=bearer("token-a")).get_json()
    assert sorted(n["notice_type"] for n in body["notices"]) == ["ACK", "ACK", "N1", "N4"]
    (exc,) = body["exceptions"]
    assert exc["reason_code"] == "repeat_request" and exc["related_notice_id"]
    only_n1 = client.get("/v1/notices?notice_type=N1", headers=bearer("token-a")).get_json()["notices"]
    assert [n["notice_type"] for n in only_n1] == ["N1"] and only_n1[0]["measure"] == "remove"


def test_stats_by_period(client):
    body = client.get("/v1/notices/stats?from=2025-04-01T00:00:00%2B09:00&to=2099-04-01T00:00:00%2B09:00",
                      headers=bearer("token-a")).get_json()
    counts = {r["notice_type"]: r["count"] for r in body["notices"]}
    assert counts == {"ACK": 2, "N1": 1, "N4": 1}
    assert body["exceptions"] == [{"notice_type": "N1/N2", "reason_code": "repeat_request",
                                   "legal_basis": "第25条第1項ただし書", "count": 1}]
    assert body["from"].startswith("2025-03-31T15:00:00")
    past = client.get("/v1/notices/stats?to=2000-01-01T00:00:00Z", headers=bearer("token-a")).get_json()
    assert past["notices"] == [] and past["exceptions"] == []


@pytest.mark.parametrize("query", ["from=yesterday", "from=2025-01-01T00:00:00", 
                                   "from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z"])
def test_bad_periods_are_400_with_the_field(client, query):
    resp = client.get(f"/v1/notices/stats?{query}", headers=bearer("token-a"))
    assert resp.status_code == 400 and resp.get_json()["fields"]
