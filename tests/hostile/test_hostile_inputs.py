"""Hostile inputs that once reached a 500: header values int() cannot read, signatures that are
not hex, JSON nested until the parser gives up. Each must be a clear 4xx, on every service, with
valid credentials (so the input reaches the parsers) and without."""
from __future__ import annotations

import pytest

from shared.signing import signed_headers
from tests.hostile.conftest import MODERATOR, NOTIFIER_TOKEN, SNS_CLIENT, SNS_SECRET
from tests.hostile.test_auth_matrix import basic

DEEP = b"[" * 50_000 + b"]" * 50_000
DEEP_OBJECT = b'{"a":' * 20_000 + b"1" + b"}" * 20_000
# (service, path, credentials for the body) for each JSON endpoint that takes a body.
JSON_ENDPOINTS = [
    ("intake", "/v1/reports", "signed"),
    ("classifier", "/v1/score", "signed"),
    ("decision", "/v1/cases/case-1/decisions", "basic"),
    ("decision", "/v1/cases/case-1/poster-replies", "admin"),
    ("decision", "/v1/appeals", "admin"),
]


def headers_for(kind: str, body: bytes) -> dict:
    if kind == "signed":
        return signed_headers(SNS_CLIENT, SNS_SECRET, body)
    if kind == "admin":
        return {**basic("admin@example.jp", "admin"), "Content-Type": "application/json"}
    return {**basic(*MODERATOR), "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def apps(tmp_path_factory, tiny_model):
    from tests.hostile.conftest import apply_test_environment, build_app

    with pytest.MonkeyPatch.context() as patch:
        apply_test_environment(patch, tiny_model)
        directory = tmp_path_factory.mktemp("hostile-inputs")
        yield {service: build_app(service, f"sqlite:///{directory / (service + '.db')}")
               for service in ("intake", "classifier", "decision", "notifier")}


@pytest.mark.parametrize("service,path,kind", JSON_ENDPOINTS)
@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["arrays", "objects"])
def test_deeply_nested_json_is_a_400_with_the_reason(apps, service, path, kind, body):
    response = apps[service].test_client().post(path, data=body, headers=headers_for(kind, body))
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True)[:200])
    assert "nested" in response.get_json()["error"]


def test_deep_json_to_the_notifier_is_a_400(apps):
    response = apps["notifier"].test_client().post(
        "/v1/notices", data=DEEP, headers={"Authorization": f"Bearer {NOTIFIER_TOKEN}",
                                           "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500


def test_ordinary_nesting_still_reaches_validation(apps):
    body = b'{"texts": [["a"]]}'
    response = apps["classifier"].test_client().post("/v1/score", data=body, headers=headers_for("signed", body))
    assert response.status_code == 400 and "nested" not in response.get_json()["error"]


@pytest.mark.parametrize("service,path", [("intake", "/v1/reports"), ("classifier", "/v1/score")])
@pytest.mark.parametrize("header,value", [("X-Modq-Timestamp", "²"), ("X-Modq-Timestamp", "１２３"),
                                          ("X-Modq-Signature", "v1=" + "é" * 64)])
def test_unreadable_signature_headers_are_a_401(apps, service, path, header, value):
    body = b'{"text": "x"}'
    headers = {**signed_headers(SNS_CLIENT, SNS_SECRET, body), header: value}
    response = apps[service].test_client().post(path, data=body, headers=headers)
    assert response.status_code == 401 and response.get_json()["error"]


def test_a_replayed_score_request_is_refused(apps):
    body = '{"text": "こんにちは"}'.encode()
    headers = signed_headers(SNS_CLIENT, SNS_SECRET, body)
    client = apps["classifier"].test_client()
    assert client.post("/v1/score", data=body, headers=headers).status_code == 200
    assert client.post("/v1/score", data=body, headers=headers).status_code == 401
