"""The body of every service's Alembic env.py (online and offline modes)."""
from __future__ import annotations

from alembic import context

from shared.db import make_engine


def run(target_metadata) -> None:
    config = context.config
    url = config.attributes.get("db_url") or config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch mode changes a column by copying the table and dropping the old one, which
            # the rows referring to it would refuse; the copy keeps every key. (The pragma must
            # come before the transaction opens; this connection is closed after the migration.)
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # ends the autobegun transaction, so the migrations' own one commits
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
