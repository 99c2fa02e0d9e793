"""Apps of the four services on fresh SQLite databases, as the fuzz and auth tests need them."""
from __future__ import annotations

import importlib
import time

import pytest

from tests.conftest import make_runtime

SERVICES = ("intake", "classifier", "decision", "notifier")
SNS_CLIENT, SNS_SECRET = "demo", "demo-secret"
MODERATOR = ("moderator@example.jp", "moderator")
NOTIFIER_TOKEN = "hostile-suite-notifier-token"


def apply_test_environment(patch: pytest.MonkeyPatch, model_dir) -> None:
    # A port nothing listens on: health checks answer 'broker down' at once instead of waiting.
    patch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    patch.setenv("MODQ_SNS_CLIENTS", f"{SNS_CLIENT}:{SNS_SECRET}")
    patch.setenv("MODQ_NOTIFIER_API_TOKENS", NOTIFIER_TOKEN)
    patch.setenv("MODQ_CLASSIFIER_MODEL", str(model_dir))


@pytest.fixture(autouse=True)
def _test_environment(monkeypatch, tiny_model):
    apply_test_environment(monkeypatch, tiny_model)


def build_app(service: str, db_url: str):
    runtime = make_runtime(service, db_url)
    if service == "decision":
        from services.decision.criteria.seed import seed_starter_criteria
        from services.decision.users.service import provision_dev_users

        provision_dev_users(runtime.db)
        seed_starter_criteria(runtime.db, backdate=True)
    app = importlib.import_module(f"services.{service}.app").create_app(runtime)
    app.testing = True
    if service == "classifier":
        wait_for_model(app)
    return app


def wait_for_model(app, timeout: float = 120.0) -> None:
    holder = app.config["MODEL"]
    deadline = time.monotonic() + timeout
    while not holder.ready():
        if holder._error or time.monotonic() > deadline:
            pytest.fail(f"classifier model did not load: {holder._error}")
        time.sleep(0.2)


@pytest.fixture
def service_app(tmp_path):
    """Factory: the Flask app of a service on its own SQLite database."""

    def make(service: str):
        return build_app(service, f"sqlite:///{tmp_path / (service + '.db')}")

    return make
