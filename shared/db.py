"""Database plumbing shared by the services: engine, unit of work, migrations.

Each service owns its own database (SQLite file by default, PostgreSQL in production) and
its own Alembic migrations under ``services/<name>/migrations``.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def make_engine(url: str, **kwargs) -> sa.Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            # WAL lets the web process read while the worker writes.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # psycopg prepares a statement after a few runs, and PostgreSQL may then keep one generic
    # plan for it. A plan made while a table was small can scan the whole table for ever
    # after: intake's look-up of idempotency keys (``IN`` lists) did, and its database CPU
    # per batch of 10 grew from 2.2 ms at 3,000 reports to 7.8 ms at 18,000 (flat at about
    # 2.5 ms with a plan per run). Planning these statements costs a fraction of that.
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args["options"] = f"{connect_args.get('options', '')} -c plan_cache_mode=force_custom_plan".strip()
    return sa.create_engine(url, connect_args=connect_args, **kwargs)


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except Exception:
            return False

    def unit_of_work(self) -> "UnitOfWork":
        return UnitOfWork(self.sessions)


class UnitOfWork:
    """One transaction: state changes and their outgoing events commit together.

    Usage::

        with db.unit_of_work() as uow:
            uow.session.add(thing)
            stage(uow.session, Outbox, event, topic)  # shared.outbox: same transaction
            uow.commit()

    Leaving the block without commit() rolls back.
    """

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions
        self.session: Session | None = None

    def __enter__(self) -> "UnitOfWork":
        self.session = self._sessions()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


def migrate(db_url: str, migrations_dir: Path, revision: str = "head") -> None:
    """Bring a service's database to ``revision`` with its Alembic scripts."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))
    cfg.attributes["db_url"] = db_url
    command.upgrade(cfg, revision)
