"""Every endpoint of every service, called without credentials, with forged or wrong
credentials, or with a role that may not use it, is refused (401/403, or the sign-in redirect
for the moderators' web pages) — never served, never a 500.

Endpoints come from each app's url_map, so a new endpoint is covered as soon as it exists; the
only ones that may answer anyone are in PUBLIC.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from urllib.parse import urlsplit

import pytest

from tests.hostile.conftest import (NOTIFIER_TOKEN, SERVICES, SNS_CLIENT, SNS_SECRET, apply_test_environment,
                                    build_app)

# Open on purpose: probes, metrics, API documents, the published deletion criteria (§26 requires
# publishing them), the §28 report's public page (第28条 requires publishing it; counts only, the
# detailed report stays at /v1/transparency), sign-in, the public request form and static assets.
PUBLIC = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/criteria", "/v1/criteria", "/login", "/request",
          "/transparency", "/static/<path:filename>", "/request-static/<path:filename>"}
PUBLIC_BY_SERVICE = {("decision", "/"): "only redirects to /queue, which is protected"}

PATH_VALUES = {"case_id": "00000000-0000-0000-0000-000000000000", "appeal_id": "00000000-0000-0000-0000-000000000000",
               "version": "2025.1", "filename": "modq.css", "key": "D-1", "filter_id": "1"}

# Decision endpoints and a role that must be refused there (auditors read but never write;
# moderators do not audit). Every protected decision endpoint must be listed.
WRONG_ROLE = {
    ("GET", "/v1/cases"): None,                      # every staff role may read the queue
    ("POST", "/v1/cases/<case_id>/claim"): "auditor",
    ("POST", "/v1/cases/<case_id>/decisions"): "auditor",
    ("POST", "/v1/cases/<case_id>/poster-replies"): "moderator",  # only the SNS hands replies in
    ("GET", "/v1/audit/verify"): "moderator",
    ("GET", "/v1/audit/decisions"): "moderator",
    ("GET", "/v1/transparency"): "moderator",
    ("GET", "/v1/dsa/statements"): "moderator",
    ("POST", "/v1/appeals"): "moderator",                         # appeals arrive from the SNS
    ("GET", "/v1/appeals"): "sns",
    ("POST", "/v1/appeals/<appeal_id>/review"): "auditor",
    ("GET", "/admin/criteria"): "supervisor",
    ("POST", "/admin/criteria"): "supervisor",
    ("GET", "/admin/criteria/<version>"): "supervisor",
    ("POST", "/admin/criteria/<version>/clauses"): "supervisor",
    ("GET", "/admin/criteria/<version>/publish"): "supervisor",
    ("POST", "/admin/criteria/<version>/publish"): "supervisor",
    ("GET", "/queue"): None,
    ("GET", "/queue/next"): "auditor",
    ("GET", "/queue/urgent"): None,                  # every staff role may read the queue
    ("GET", "/cases/<case_id>"): None,
    ("POST", "/cases/<case_id>/claim"): "auditor",
    ("POST", "/cases/<case_id>/release"): "auditor",
    ("POST", "/cases/<case_id>/decide"): "auditor",
    ("POST", "/logout"): None,                       # any signed-in user may sign out
    ("POST", "/cases/<case_id>/notes"): "auditor",
    ("GET", "/cases/<case_id>/bulk"): "auditor",
    ("POST", "/cases/<case_id>/bulk"): "auditor",
    ("POST", "/cases/<case_id>/assign"): "moderator",  # supervisors and admins assign   # auditors read notes, never write them
    ("GET", "/reason-templates"): "moderator",       # supervisors and admins edit the templates
    ("POST", "/reason-templates/<key>"): "moderator",
    ("POST", "/queue/filters"): None,                # each staff member's own saved filters
    ("POST", "/queue/filters/<filter_id>/delete"): None,
    ("POST", "/settings/media"): None,               # each staff member's own media setting
}


def forged_signature_headers(body: bytes) -> dict:
    timestamp = str(int(time.time()))
    digest = hmac.new(b"not-the-secret", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Modq-Client": "demo", "X-Modq-Timestamp": timestamp, "X-Modq-Signature": f"v1={digest}"}


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


ATTACKS = {
    "no credentials": lambda body: {},
    "forged HMAC signature": forged_signature_headers,
    "wrong password": lambda body: basic("moderator@example.jp", "not-the-password"),
    "forged bearer token": lambda body: {"Authorization": "Bearer forged-token-0123456789"},
}


def foreign_credentials(service: str, body: bytes) -> list[tuple[str, dict]]:
    """Valid credentials of the other services, which must not open this one."""
    from shared.signing import signed_headers

    candidates = [
        ({"intake", "classifier"}, "a valid SNS signature", signed_headers(SNS_CLIENT, SNS_SECRET, body)),
        ({"decision"}, "a valid admin password", basic("admin@example.jp", "admin")),
        ({"notifier"}, "a valid notifier token", {"Authorization": f"Bearer {NOTIFIER_TOKEN}"}),
    ]
    return [(name, headers) for owners, name, headers in candidates if service not in owners]


def endpoints(app, service: str):
    """(method, rule, concrete path) for every routed endpoint that is not public."""
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC or (service, rule.rule) in PUBLIC_BY_SERVICE:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: PATH_VALUES.get(m.group(1), "x"), rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule, path


def refused(response) -> bool:
    if response.status_code in (401, 403):
        return True
    # Repeated wrong passwords are throttled: refused too, and told when to try again.
    if response.status_code == 429 and int(response.headers.get("Retry-After", "0")) > 0:
        return True
    # The moderators' web pages send a browser to the sign-in page instead of a bare 401.
    location = response.headers.get("Location", "")
    return response.status_code in (302, 303) and urlsplit(location).path == "/login"


def call(client, method: str, path: str, headers: dict):
    body = b"{}"
    return client.open(path, method=method, data=body if method != "GET" else None,
                       headers={"Content-Type": "application/json", **headers})


@pytest.fixture(scope="module")
def apps(tmp_path_factory, tiny_model):
    # Built once for the module: the requests below change no state that another test reads.
    with pytest.MonkeyPatch.context() as patch:
        apply_test_environment(patch, tiny_model)
        directory = tmp_path_factory.mktemp("auth-matrix")
        built = {service: build_app(service, f"sqlite:///{directory / (service + '.db')}") for service in SERVICES}
    # CSRF would refuse form posts before authentication is even checked; test authentication.
    built["decision"].config["WTF_CSRF_ENABLED"] = False
    return built


def test_every_protected_endpoint_refuses_missing_and_forged_credentials(apps):
    failures, tried = [], 0
    for service, app in apps.items():
        client = app.test_client()
        for method, rule, path in endpoints(app, service):
            body = b"{}" if method != "GET" else b""
            attacks = [(name, make(body)) for name, make in ATTACKS.items()] + foreign_credentials(service, body)
            for attack, headers in attacks:
                response = call(client, method, path, headers)
                tried += 1
                if not refused(response):
                    failures.append(f"{service} {method} {rule} with {attack}: {response.status_code}")
    print(f"\nauth matrix: {tried} requests")
    assert not failures, "served without valid credentials:\n" + "\n".join(failures)


def test_every_protected_decision_endpoint_has_a_role_rule(apps):
    listed = set(WRONG_ROLE)
    routed = {(method, rule) for method, rule, _ in endpoints(apps["decision"], "decision")}
    assert routed - listed == set(), "add these endpoints to WRONG_ROLE"


def sign_in(client, role: str) -> None:
    response = client.post("/login", data={"email": f"{role}@example.jp", "password": role})
    assert response.status_code in (302, 303), f"dev user {role} could not sign in"


@pytest.fixture
def unthrottled(apps):
    """The matrix above throttles the address it signs in from; each role test starts afresh."""
    from services.decision.users.signin import SignInThrottle

    apps["decision"].extensions["signin_throttle"] = SignInThrottle()


@pytest.mark.parametrize("method,rule", [key for key, role in WRONG_ROLE.items() if role])
def test_decision_endpoint_refuses_a_role_without_the_right(apps, unthrottled, method, rule):
    role = WRONG_ROLE[(method, rule)]
    path = re.sub(r"<([^>]+)>", lambda m: PATH_VALUES[m.group(1)], rule)
    client = apps["decision"].test_client()
    if rule.startswith("/v1/"):
        response = call(client, method, path, basic(f"{role}@example.jp", role))
    else:
        sign_in(client, role)
        response = call(client, method, path, {})
    assert response.status_code == 403, f"{role} got {response.status_code} on {method} {rule}"


def test_repeated_wrong_passwords_are_throttled_on_every_basic_endpoint(apps, unthrottled):
    client = apps["decision"].test_client()
    statuses = [call(client, "GET", "/v1/cases", basic("specialist@example.jp", "wrong")).status_code
                for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    answer = call(client, "GET", "/v1/cases", basic("specialist@example.jp", "specialist"))
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0


def test_cookie_sessions_cannot_write_through_the_api_without_the_csrf_token(apps, unthrottled):
    """A signed-in browser's cookie alone (a cross-site form) must not write through /v1."""
    app = apps["decision"]
    client = app.test_client()
    sign_in(client, "admin")
    writes = [(method, path) for method, rule, path in endpoints(app, "decision")
              if rule.startswith("/v1/") and method in ("POST", "PUT", "PATCH", "DELETE")]
    assert writes
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        answers = {f"{method} {path}": call(client, method, path, {}).status_code for method, path in writes}
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert set(answers.values()) == {400}, answers
