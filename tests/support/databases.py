"""Databases for tests: PostgreSQL at 127.0.0.1:5432 when it answers (a fresh database per
test), and a migrated runtime of any service on a given database URL."""
from __future__ import annotations

import socket
import uuid

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


def new_pg_database() -> str:
    import psycopg

    name = f"modq_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[-1]
    with psycopg.connect(f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
