"""Shared fixtures: a real Kafka-protocol broker (one per test session), fresh topics and
databases per test, PostgreSQL when reachable (SQLite otherwise), and a tiny random BERT
used only to exercise the plumbing."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.support.databases import PG, drop_pg_database, make_runtime, new_pg_database  # noqa: F401 (make_runtime: for tests)

# The tests run on the development secrets; subprocesses they start inherit the switch.
os.environ.setdefault("MODQ_DEV_MODE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MODQ_KAFKA_SESSION_TIMEOUT_MS", "2000")
os.environ.setdefault("MODQ_KAFKA_HEARTBEAT_INTERVAL_MS", "500")


def pytest_report_header(config):
    return [f"databases: SQLite{' and PostgreSQL at 127.0.0.1:5432' if PG else ' only (PostgreSQL not reachable)'}"]


@pytest.fixture(scope="session")
def broker():
    from tools.broker import EmbeddedBroker

    with EmbeddedBroker() as b:
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = b.bootstrap
        yield b


@pytest.fixture
def topics(monkeypatch):
    """Fresh topic names for this test, so tests never see each other's events."""
    from shared.settings import DEFAULT_TOPICS

    suffix = uuid.uuid4().hex[:8]
    names = {}
    for key, name in DEFAULT_TOPICS.items():
        names[key] = f"{name}.{suffix}"
        monkeypatch.setenv(f"MODQ_TOPIC_{key.upper()}", names[key])
    monkeypatch.setenv("MODQ_CONSUMER_GROUP_SUFFIX", f".{suffix}")  # fresh consumer groups too
    return names


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Each database-backed test runs on SQLite and, when reachable, on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not PG:
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    url = new_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny randomly initialised BERT: plumbing only, never shipped as the product's model."""
    from tools.tiny_model import build_tiny_random_model

    return Path(build_tiny_random_model(tmp_path_factory.mktemp("tiny-bert")))
