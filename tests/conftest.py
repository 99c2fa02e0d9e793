"""Shared fixtures: a real Kafka-protocol broker (one per test session), fresh topics and
databases per test, PostgreSQL when reachable (SQLite otherwise), and a tiny random BERT
used only to exercise the plumbing."""
from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

# The tests run on the development secrets; subprocesses they start inherit the switch.
os.environ.setdefault("MODQ_DEV_MODE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MODQ_KAFKA_SESSION_TIMEOUT_MS", "2000")
os.environ.setdefault("MODQ_KAFKA_HEARTBEAT_INTERVAL_MS", "500")

PG_HOST, PG_PORT = "127.0.0.1", 5432


def postgres_available() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=0.5):
            pass
        import psycopg

        with psycopg.connect(f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres", connect_timeout=2):
            return True
    except Exception:
        return False


PG = postgres_available()


def pytest_report_header(config):
    return [f"databases: SQLite{' and PostgreSQL at 127.0.0.1:5432' if PG else ' only (PostgreSQL not reachable)'}"]


@pytest.fixture(scope="session")
def broker():
    from shared.broker import EmbeddedBroker

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


def _new_pg_database() -> str:
    import psycopg

    name = f"modq_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"


def _drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[-1]
    with psycopg.connect(f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Each database-backed test runs on SQLite and, when reachable, on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not PG:
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    url = _new_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(url)


def make_runtime(service: str, db_url: str):
    """A migrated runtime for ``service`` on ``db_url``."""
    import importlib

    from shared.db import Database
    from shared.runtime import Runtime
    from shared.settings import ServiceSettings

    app_module = importlib.import_module(f"services.{service}.app")
    models = importlib.import_module(f"services.{service}.models")
    settings = ServiceSettings.for_service(service)
    settings = type(settings)(**{**settings.__dict__, "database_url": db_url})
    runtime = Runtime(settings=settings, db=Database(db_url), outbox_model=models.Outbox,
                      migrations_dir=app_module.MIGRATIONS)
    runtime.migrate()
    return runtime


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny randomly initialised BERT: plumbing only, never shipped as the product's model."""
    from services.classifier.testing import build_tiny_random_model

    return Path(build_tiny_random_model(tmp_path_factory.mktemp("tiny-bert")))
