"""Who is using the database: running servers hold a shared lock for their whole life; `wins restore` needs
the exclusive one, so it refuses while any server (any worker, on any host for PostgreSQL) is running on it.

Why: a restore under running workers leaves them with the old event ids, sign-ins and caches in memory, and
screens stop updating until a restart. The lock lives as long as the process holding it, so a crashed
server never leaves a stale lock behind (unlike a pid file).

- SQLite: an fcntl lock on `<database file>.serving`, next to the database (the same file for every
  process that opens that database, whatever its data dir).
- PostgreSQL: a session advisory lock in that database, on a connection of its own. Advisory locks are per
  database and seen from every host, which a file in a data dir is not.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import psycopg
from sqlalchemy.engine import make_url

from wins.config import Settings
from wins.errors import Conflict

logger = logging.getLogger(__name__)

# Two-integer advisory key space (apart from the one-bigint keys the event log and tickets use): "WINS", 1.
PG_LOCK_KEY = (0x57494E53, 1)


class ServerRunning(Conflict):
    code = "server_running"


def _sqlite_lock_path(url: str) -> Path:
    database = make_url(url).database or ""
    return Path(database).resolve().with_name(Path(database).name + ".serving")


class ServerPresence:
    """Held by a running server (see app.py's lifespan). `release()` when the server stops."""

    def __init__(self, handle: IO[bytes] | psycopg.Connection[Any] | None) -> None:
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the lock (fcntl) or ends the session (advisory lock)
            self._handle = None


def announce_server(settings: Settings) -> ServerPresence:
    """Take the shared "a server runs here" lock. Waits while a restore holds the exclusive one."""
    url = settings.sqlalchemy_url
    try:
        if settings.is_sqlite:
            if make_url(url).database in (None, "", ":memory:"):
                return ServerPresence(None)  # a private in-memory database: nothing to restore into
            path = _sqlite_lock_path(url)
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "ab")  # noqa: SIM115 - kept open for the server's life
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.warning("waiting for a restore of the database to finish")
                fcntl.flock(handle, fcntl.LOCK_SH)
            return ServerPresence(handle)
        # A session lock needs a session of its own: straight to PostgreSQL past a transaction-pooling PgBouncer,
        # which would leave the lock on a server connection it hands to others (and keep it after we stop).
        conn = psycopg.connect(settings.session_conninfo, autocommit=True, application_name="wins-presence")
        conn.execute("SELECT pg_advisory_lock_shared(%s, %s)", PG_LOCK_KEY)
        return ServerPresence(conn)
    except (OSError, psycopg.Error) as exc:
        # Serving matters more than the guard: say so and carry on.
        logger.warning("could not take the server presence lock (wins restore cannot see this server): %s", exc)
        return ServerPresence(None)


@contextmanager
def exclusive_use(settings: Settings) -> Iterator[None]:
    """Held by `wins restore`: refuses with ServerRunning while a server holds the shared lock."""
    refusal = ServerRunning(
        "A WINS server is running on this database. Stop it first (systemctl stop wins, or stop "
        "`wins serve`), restore, then start it again."
    )
    url = settings.sqlalchemy_url
    if settings.is_sqlite:
        path = _sqlite_lock_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise refusal from None
            yield
        return
    with psycopg.connect(settings.session_conninfo, autocommit=True, application_name="wins-restore") as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", PG_LOCK_KEY).fetchone()
        if not (row and row[0]):
            raise refusal
        yield  # the session lock ends with the connection


__all__ = ["ServerPresence", "ServerRunning", "announce_server", "exclusive_use"]
