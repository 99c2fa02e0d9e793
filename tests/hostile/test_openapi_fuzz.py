"""Property-based fuzzing of each service's HTTP API from its own OpenAPI document
(schemathesis, in-process over WSGI): no input may cause a 5xx, and every response must match
the documented status codes, content types and schemas.

Intake's and the classifier's bodies are signed (the fuzzer would otherwise only ever see 401),
the decision API is called as a moderator and the notifier's with a bearer token, so the
generated inputs reach validation and the service layer.
"""
from __future__ import annotations

import json
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)
from schemathesis.core import NOT_SET
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

from shared.signing import signed_headers
from tests.hostile.conftest import MODERATOR, NOTIFIER_TOKEN, SERVICES, SNS_CLIENT, SNS_SECRET

MAX_EXAMPLES = 30  # per operation: enough to shake out crashes, small enough for 2 cores
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Endpoints an SNS backend calls with an HMAC-signed body (shared/signing.py).
SIGNED_OPERATIONS = {("POST", "/v1/reports"), ("POST", "/v1/score")}
# /metrics is Prometheus text, /openapi.json the document itself; neither takes input.
SKIPPED_PATHS = {"/metrics", "/openapi.json"}


def sign_body(context, case, kwargs):
    """before_call hook: send the generated body as exact bytes with a valid HMAC signature."""
    if (case.operation.method.upper(), case.operation.path) not in SIGNED_OPERATIONS:
        return
    raw = b"" if case.body is NOT_SET else json.dumps(case.body, ensure_ascii=False).encode("utf-8")
    kwargs["data"] = raw
    case.headers = {**(case.headers or {}), **signed_headers(SNS_CLIENT, SNS_SECRET, raw)}


@pytest.fixture
def signing_hook():
    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(sign_body, "before_call")
    yield
    GLOBAL_HOOK_DISPATCHER.unregister(sign_body)


def operations(schema):
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path not in SKIPPED_PATHS:
            yield operation


def credentials(service: str) -> dict:
    """What a legitimate caller of the service sends, so the fuzzer gets past authentication."""
    if service == "decision":
        return {"auth": MODERATOR}
    if service == "notifier":
        return {"headers": {"Authorization": f"Bearer {NOTIFIER_TOKEN}"}}
    return {}  # intake and the classifier: the before_call hook signs each body


def fuzz_operation(operation, tried: Counter, call_kwargs: dict) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case):
        tried[f"{operation.method.upper()} {operation.path}"] += 1
        case.call_and_validate(checks=CHECKS, **call_kwargs)

    run()


@pytest.mark.parametrize("service", SERVICES)
def test_api_survives_generated_input(service, service_app, signing_hook):
    app = service_app(service)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    tried: Counter = Counter()
    for operation in operations(schema):
        fuzz_operation(operation, tried, credentials(service))
    print(f"\n{service}: {sum(tried.values())} cases over {len(tried)} operations: {dict(tried)}")
    assert tried, f"{service}: no operation was fuzzed"
