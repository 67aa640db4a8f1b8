"""Real databases for tests: a migrated SQLite template file copied per test, and on PostgreSQL a migrated
template database cloned per test (CREATE DATABASE … TEMPLATE), dropped afterwards.

A clone takes PostgreSQL ~0.3 s (it writes and syncs the new database's files), about as long as an average
test: a background thread keeps the next clones ready while the tests run, so a test rarely waits for one."""

from __future__ import annotations

import os
import queue
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from wins.migrate import upgrade

POSTGRES_URL = os.environ.get("WINS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _admin_conn() -> psycopg.Connection:
    return psycopg.connect(POSTGRES_URL, autocommit=True)


def _pg_url(name: str) -> str:
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{name}"


class TemplateCache:
    """Migrates once per test session, clones per test."""

    AHEAD = 2  # PostgreSQL clones kept ready

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._sqlite_template: Path | None = None
        self._pg_template: str | None = None
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._wanted = threading.Semaphore(0)
        self._closing = False
        self._maker: threading.Thread | None = None

    def sqlite_template(self) -> Path:
        if self._sqlite_template is None:
            path = self.workdir / "template.db"
            upgrade(f"sqlite:///{path}")
            self._sqlite_template = path
        return self._sqlite_template

    def pg_template(self) -> str:
        if self._pg_template is None:
            name = f"wins_tmpl_{uuid.uuid4().hex[:10]}"
            with _admin_conn() as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            upgrade(_pg_url(name).replace("postgresql://", "postgresql+psycopg://"))
            with _admin_conn() as conn:
                # Nobody (not even autovacuum) may hold a connection to a database being cloned.
                conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            self._pg_template = name
        return self._pg_template

    def _make_clones(self) -> None:
        while True:
            self._wanted.acquire()
            if self._closing:
                return
            try:
                name = f"wins_t_{uuid.uuid4().hex[:12]}"
                _clone(self.pg_template(), name)
                self._ready.put(name)
            except BaseException as exc:  # handed to the test that takes it (PostgreSQL down, …)
                self._ready.put(exc)

    def _pg_clone(self) -> str:
        """A fresh clone of the PostgreSQL template: one made ahead if there is one, and another is started."""
        if self._maker is None:
            self._maker = threading.Thread(target=self._make_clones, name="pg-clones", daemon=True)
            self._maker.start()
            for _ in range(self.AHEAD):
                self._wanted.release()
        made = self._ready.get(timeout=120)
        self._wanted.release()
        if isinstance(made, BaseException):
            raise made
        return made

    def drop_all(self) -> None:
        if self._maker is not None:
            self._closing = True
            self._wanted.release()
            self._maker.join(timeout=60)
            while not self._ready.empty():
                made = self._ready.get()
                if isinstance(made, str):
                    _drop(made)
        if self._pg_template:
            with _admin_conn() as conn:
                conn.execute(f'ALTER DATABASE "{self._pg_template}" WITH ALLOW_CONNECTIONS true')
            _drop(self._pg_template)

    @contextmanager
    def database(self, kind: str, tmp_path: Path) -> Iterator[str]:
        """A fresh migrated database URL (WINS_DATABASE_URL form)."""
        if kind == "sqlite":
            path = tmp_path / "wins.db"
            shutil.copyfile(self.sqlite_template(), path)
            yield f"sqlite:///{path}"
            return
        name = self._pg_clone()
        try:
            yield _pg_url(name)
        finally:
            _drop(name)


def _clone(template: str, name: str) -> None:
    for attempt in range(20):
        try:
            with _admin_conn() as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return
        except psycopg.errors.ObjectInUse:  # "source database is being accessed by other users"
            if attempt == 19:
                raise
            time.sleep(0.25)


def _drop(name: str) -> None:
    with _admin_conn() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
