"""Alembic environment. The migrations live inside the package so `wins db upgrade` works from any install."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

import wins.models  # noqa: F401  (fills the metadata)
from wins.db import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")


def run_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    # Never prepared: a migration runs each statement a few times at most, and a prepared statement would stay on
    # the server connection of a transaction-pooling PgBouncer that other clients share (docs/deployment.md).
    prepare = {"prepare_threshold": None} if str(url).startswith("postgresql") else {}
    engine = create_engine(str(url), poolclass=NullPool, connect_args=prepare)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
