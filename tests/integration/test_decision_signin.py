"""Signing in to the decision service: safe redirects, throttling (form and HTTP Basic),
the same work for unknown accounts, server-side sessions, Secure cookies, CSRF on cookie
API writes, bearer tokens, and claims before decisions through the API."""
from __future__ import annotations

import base64
import re

import pytest
import sqlalchemy as sa

from services.decision.users import service as user_service
from services.decision.users import signin
from services.decision.app import create_app
from services.decision.cases.models import Case
from services.decision.users.models import User
from tests.integration.test_decision_http import open_case


@pytest.fixture
def app(decision):
    app = create_app(decision)
    app.testing = True  # CSRF stays on
    return app


def basic(email: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()}


def csrf_token(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, email, password, next_=None, address="127.0.0.1"):  # the test client's own
    url = "/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data={"email": email, "password": password, "csrf_token": csrf_token(client)},
                       environ_base={"REMOTE_ADDR": address})


@pytest.fixture
def hash_checks(monkeypatch):
    calls = []
    real = signin.check_password_hash

    def counting(pwhash, password):
        calls.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(signin, "check_password_hash", counting)
    return calls


@pytest.mark.parametrize("target", ["/%09/evil.example", "//evil.example", "/\\evil.example",
                                    "https://evil.example/", "/%0a/evil.example", "/%5Cevil.example"])
def test_next_is_only_a_path_on_this_host(app, target):
    response = sign_in(app.test_client(), "moderator@example.jp", "moderator", next_=target)
    assert response.status_code == 302 and response.location == "/queue"


def test_next_to_a_local_page_is_followed(app):
    response = sign_in(app.test_client(), "moderator@example.jp", "moderator", next_="/cases/case-1")
    assert response.location == "/cases/case-1"


def test_failed_sign_ins_are_throttled_per_account(app):
    client = app.test_client()
    for i in range(5):
        assert sign_in(client, "moderator@example.jp", "wrong", address=f"10.0.1.{i}").status_code == 401
    refused = sign_in(client, "moderator@example.jp", "moderator", address="10.0.1.99")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert sign_in(client, "specialist@example.jp", "specialist", address="10.0.1.99").status_code == 302


def test_failed_sign_ins_are_throttled_per_address(app):
    client = app.test_client()
    for i in range(20):
        sign_in(client, f"nobody{i}@example.jp", "wrong", address="10.0.2.1")
    assert sign_in(client, "moderator@example.jp", "moderator", address="10.0.2.1").status_code == 429
    assert sign_in(client, "moderator@example.jp", "moderator", address="10.0.2.2").status_code == 302


def test_http_basic_is_throttled_with_retry_after(app):
    client = app.test_client()
    for _ in range(5):
        assert client.get("/v1/cases", headers=basic("auditor@example.jp", "wrong")).status_code == 401
    refused = client.get("/v1/cases", headers=basic("auditor@example.jp", "auditor"))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.get_json()["status"] == 429


def test_unknown_account_costs_a_password_hash_like_a_known_one(app, hash_checks):
    client = app.test_client()
    sign_in(client, "nobody@example.jp", "whatever")
    sign_in(client, "moderator@example.jp", "wrong")
    assert len(hash_checks) == 2  # one check each: the answer takes as long either way


def test_http_basic_does_not_hash_on_every_request(app, decision, hash_checks):
    client = app.test_client()
    for _ in range(3):
        assert client.get("/v1/cases", headers=basic("auditor@example.jp", "auditor")).status_code == 200
    assert len(hash_checks) == 1
    with decision.db.unit_of_work() as uow:  # a password change ends the remembered credentials
        user = uow.session.scalar(sa.select(User).where(User.email == "auditor@example.jp"))
        user.password_hash = signin.generate_password_hash("changed")
        uow.commit()
    assert client.get("/v1/cases", headers=basic("auditor@example.jp", "auditor")).status_code == 401


def test_session_is_renewed_at_sign_in_and_revoked_at_sign_out(app):
    client = app.test_client()
    csrf_token(client)
    before = client.get_cookie("session").value
    assert sign_in(client, "moderator@example.jp", "moderator").status_code == 302
    signed_in = client.get_cookie("session").value
    assert signed_in != before
    assert client.get("/queue").status_code == 200
    token = csrf_token(client, "/queue")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", signed_in)  # the cookie as it was before signing out
    assert replay.get("/queue").status_code == 302


def test_session_cookie_is_secure_when_asked_and_by_default_in_production(decision, monkeypatch):
    monkeypatch.setenv("MODQ_SECURE_COOKIES", "1")
    client = create_app(decision).test_client()
    response = client.get("/login")
    assert "Secure" in response.headers["Set-Cookie"]
    monkeypatch.delenv("MODQ_SECURE_COOKIES")
    monkeypatch.delenv("MODQ_DEV_MODE")
    from shared.settings import secure_cookies

    assert secure_cookies() is True


def test_cookie_api_writes_need_the_csrf_token_and_a_claim_answers_200(app, decision):
    open_case(decision)
    client = app.test_client()
    sign_in(client, "moderator@example.jp", "moderator")
    refused = client.post("/v1/cases/case-1/claim")
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["error"]
    with decision.db.sessions() as s:
        assert s.get(Case, "case-1").claimed_by is None
    token = csrf_token(client, "/cases/case-1")
    claimed = client.post("/v1/cases/case-1/claim", headers={"X-CSRFToken": token})
    assert claimed.status_code == 200, claimed.get_json()
    assert claimed.get_json()["cases"][0]["claimed_by"]
    assert client.get("/v1/cases").status_code == 200  # reads need no token


def test_bearer_token_authenticates_api_writes_without_csrf(app, decision):
    open_case(decision)
    with decision.db.sessions() as s:
        mod = s.scalar(sa.select(User).where(User.email == "moderator@example.jp"))
    token = user_service.issue_token(decision.db, mod.id, "test client")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/v1/cases/case-1/claim", headers=auth).status_code == 200
    decided = client.post("/v1/cases/case-1/decisions", headers=auth,
                          json={"measure": "remove", "clause_id": "D-1", "reason": "名誉毀損に当たる"})
    assert decided.status_code == 201
    assert client.get("/v1/cases", headers={"Authorization": "Bearer not-a-token"}).status_code == 401


def test_deciding_through_the_api_without_a_claim_is_refused(app, decision):
    open_case(decision)
    client = app.test_client()
    refused = client.post("/v1/cases/case-1/decisions", headers=basic("moderator@example.jp", "moderator"),
                          json={"measure": "remove", "clause_id": "D-1", "reason": "x"})
    assert refused.status_code == 409 and "claim" in refused.get_json()["fields"]["json"]
    overridden = client.post("/v1/cases/case-1/decisions", headers=basic("supervisor@example.jp", "supervisor"),
                             json={"measure": "remove", "clause_id": "D-1", "reason": "x", "override_claim": True})
    assert overridden.status_code == 201
