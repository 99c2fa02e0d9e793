"""Production refuses development secrets: an unset or development secret stops a service at
start-up, naming the variable, unless MODQ_DEV_MODE=1 (make run and the tests)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shared import settings
from shared.settings import InsecureSetting, ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
STRONG = {"MODQ_SECRET_KEY": "s" * 40, "MODQ_PSEUDONYM_KEY": "p" * 40, "MODQ_AUDIT_KEY": "a" * 40,
          "MODQ_SNS_CLIENTS": "sns:" + "x" * 40, "MODQ_NOTIFIER_API_TOKENS": "t" * 40}


@pytest.fixture
def production(monkeypatch):
    monkeypatch.delenv("MODQ_DEV_MODE", raising=False)
    for name, value in STRONG.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.mark.parametrize("service", ["intake", "classifier", "decision", "notifier"])
def test_every_service_starts_on_real_secrets(production, service):
    assert ServiceSettings.for_service(service).secret_key == STRONG["MODQ_SECRET_KEY"]


@pytest.mark.parametrize("service, name", [
    ("decision", "MODQ_SECRET_KEY"), ("intake", "MODQ_SNS_CLIENTS"), ("classifier", "MODQ_SNS_CLIENTS"),
    ("notifier", "MODQ_NOTIFIER_API_TOKENS"), ("decision", "MODQ_PSEUDONYM_KEY"), ("decision", "MODQ_AUDIT_KEY"),
    ("intake", "MODQ_PSEUDONYM_KEY")])
@pytest.mark.parametrize("value", [None, "development"])
def test_unset_or_development_secret_is_refused_naming_the_variable(production, service, name, value):
    if value is None:
        production.delenv(name)
    else:
        production.setenv(name, settings.DEV_SECRETS[name])
    with pytest.raises(InsecureSetting, match=name):
        ServiceSettings.for_service(service)


def test_development_client_among_real_ones_is_refused(production):
    production.setenv("MODQ_SNS_CLIENTS", "sns:" + "x" * 40 + ",demo:demo-secret")
    with pytest.raises(InsecureSetting, match="MODQ_SNS_CLIENTS"):
        ServiceSettings.for_service("intake")


def test_short_key_is_refused(production):
    production.setenv("MODQ_SECRET_KEY", "short")
    with pytest.raises(InsecureSetting, match="MODQ_SECRET_KEY"):
        ServiceSettings.for_service("decision")


def test_development_mode_uses_the_development_values(production):
    production.setenv("MODQ_DEV_MODE", "1")
    for name in STRONG:
        production.delenv(name)
    assert ServiceSettings.for_service("decision").secret_key == settings.DEV_SECRET_KEY


def test_the_command_line_refuses_to_start_and_names_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODQ_")}
    env["MODQ_DECISION_DATABASE_URL"] = f"sqlite:///{tmp_path / 'd.db'}"
    out = subprocess.run([sys.executable, "-m", "services.decision", "migrate"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "MODQ_SECRET_KEY" in out.stderr and "Traceback" not in out.stderr


def test_deploy_files_have_no_fallback_secrets():
    compose = (ROOT / "deploy" / "docker-compose.yml").read_text(encoding="utf-8")
    assert re.findall(r"\$\{[A-Z_]+:-", compose) == []
    for dev_value in settings.DEV_SECRETS.values():
        assert dev_value not in compose


def test_a_cookie_signed_with_the_development_key_is_not_a_session(production, tmp_path):
    from flask.sessions import SecureCookieSessionInterface
    from flask import Flask

    from tests.conftest import make_runtime
    from services.decision.app import create_app
    from services.decision.users.service import provision_dev_users

    runtime = make_runtime("decision", f"sqlite:///{tmp_path / 'd.db'}")
    provision_dev_users(runtime.db)
    app = create_app(runtime)
    forger = Flask("forger")
    forger.secret_key = settings.DEV_SECRET_KEY
    cookie = SecureCookieSessionInterface().get_signing_serializer(forger).dumps(
        {"_user_id": "5", "_fresh": True})  # user 5: admin@example.jp
    client = app.test_client()
    client.set_cookie("session", cookie)
    assert client.get("/admin/criteria").status_code == 302  # to the sign-in page
