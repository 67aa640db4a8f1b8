"""Engine and sessions.

One `Database` per process. Writes on SQLite use `BEGIN IMMEDIATE` so that two writers never both read a
ticket as free and then race to claim it: SQLite serialises them up front instead of failing one at commit.
Reads use plain deferred transactions, which WAL lets run beside a writer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from wins import db_flags
from wins.config import Settings
from wins.db_flags import HasInfo as HasInfo  # re-exported: after-commit hooks are typed against it

logger = logging.getLogger(__name__)
T = TypeVar("T")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


WRITE_LOCK_TIMEOUT = 30.0
WAL_AUTOCHECKPOINT_PAGES = 20000  # ~80 MB of WAL
CHECKPOINT_SECONDS = 0.2  # small and often: a checkpoint of 0.5 s of writes moved p99 from 18 to 25 ms, 5 s to 60 ms
SQLITE_MMAP_BYTES = 256 * 1024 * 1024


# The answer to a request whose database is unreachable (wins.app's handler, and the issue express lane when a
# tap's outcome is unknown): one wording for both.
UNAVAILABLE_MESSAGE = "The database is busy or unreachable; try again in a moment."


class WriteLockBusy(Exception):
    """`Database.raw_sqlite_write` would have to wait: another thread of this process holds the write lock."""


def _locking_connection(lock: threading.Lock) -> type[sqlite3.Connection]:
    class LockingConnection(sqlite3.Connection):
        """Releases the process's write lock (taken at BEGIN IMMEDIATE) once the transaction has ended."""

        holds_write_lock = False

        def _release(self) -> None:
            if self.holds_write_lock:
                self.holds_write_lock = False
                lock.release()

        def commit(self) -> None:
            try:
                super().commit()
            finally:
                if not self.in_transaction:
                    self._release()

        def rollback(self) -> None:
            try:
                super().rollback()
            finally:
                self._release()

        def close(self) -> None:
            try:
                super().close()
            finally:
                self._release()

    return LockingConnection


def _sqlite_engine(url: str, *, immediate: bool, synchronous: str = "NORMAL") -> tuple[Engine, threading.Lock]:
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # Writers of this process queue on a Python lock before BEGIN IMMEDIATE. Without it, threads that find the
    # database locked sleep in SQLite's busy handler (1, 2, 5 … 100 ms back-off) and wake late: at 16 concurrent
    # requests that made p99 over a second. The busy timeout still arbitrates between processes.
    lock = threading.Lock()
    connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": 30}
    if immediate:
        connect_args["factory"] = _locking_connection(lock)
    # LIFO: the connection used last (warm page cache) is the one handed out next.
    engine = create_engine(url, connect_args=connect_args, pool_size=8, max_overflow=32, pool_use_lifo=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself (pysqlite's own handling is broken for this).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode is durable across process crashes; FULL also across power cuts (see Settings).
        cur.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # A commit that crosses the auto-checkpoint threshold copies the WAL into the database and syncs it, inside
        # the commit: tens of milliseconds on a busy disk, on the event loop for the issue path. A server process
        # checkpoints from a background thread instead (Database.start_checkpointer); this high threshold is only
        # the safety net for processes that do not (the last connection to close checkpoints too).
        cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        # Years of history make the random-key indexes (tracking token, idempotency key) large: every issue
        # touches a cold page of each. Memory-mapping the file reads them straight from the OS page cache,
        # shared by every connection, instead of a read() into each connection's own page cache
        # (bench/history.py: issue and call flat from 0 to 5 M past tickets).
        cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if not immediate:
            conn.exec_driver_sql("BEGIN")
            return
        dbapi_conn = conn.connection.dbapi_connection
        if not lock.acquire(timeout=WRITE_LOCK_TIMEOUT):
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
        dbapi_conn.holds_write_lock = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            dbapi_conn._release()
            raise

    return engine, lock


class WinsSession(Session):
    """The sessions of WINS's own factories (`Database.open`). ORM listeners of WINS (wins.tickets' queue counts
    and caches, the rollback listener below) listen on this class only, never on every Session of the process."""


@event.listens_for(WinsSession, "after_rollback")
def _transaction_rolled_back(session: Session) -> None:
    db_flags.forget_events_written(session)


@dataclass
class RawTransaction:
    """A write transaction made without a Session (`Database.raw_sqlite_write`): its connection, and the same
    notes a Session keeps in `info` (wins.db_flags), so after-commit hooks see what it wrote."""

    conn: sqlite3.Connection
    info: dict[Any, Any] = field(default_factory=dict)


class _Precompiled:
    """A Core statement compiled once for one driver, with its parameters' SQLAlchemy bind processors: the same
    SQL and the same stored values as through SQLAlchemy, without its per-execution compile and cache-key work.
    `columns` limits an INSERT to the columns given."""

    def __init__(self, statement: Any, dialect: Dialect, columns: list[str] | None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=columns)
        self.sql = compiled.string
        self._compiled = compiled
        self._names = list(compiled.positiontup or [])
        self._processors = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self._names
        ]

    def params(self, values: dict[str, Any]) -> list[Any]:
        full = self._compiled.construct_params(values)  # fills in the statement's own literal values
        return [
            full[name] if process is None else process(full[name])
            for name, process in zip(self._names, self._processors, strict=True)
        ]


class RawStatement(_Precompiled):
    """A Core statement compiled once for SQLite, to run on a bare sqlite3 connection (`Database.raw_sqlite_write`)."""

    def __init__(self, statement: Any, *, columns: list[str] | None = None) -> None:
        super().__init__(statement, sqlite_dialect.dialect(paramstyle="qmark"), columns)

    def execute(self, conn: sqlite3.Connection, values: dict[str, Any]) -> sqlite3.Cursor:
        return conn.execute(self.sql, self.params(values))


# -- PostgreSQL statements on the event loop ---------------------------------------------------------------


class LoopStatement(_Precompiled):
    """A Core statement compiled once for PostgreSQL (psycopg, `$n` parameters), to run on a `LoopPool`."""

    def __init__(self, statement: Any, *, columns: list[str] | None = None) -> None:
        dialect = psycopg_dialect.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
        super().__init__(statement, dialect, columns)


class LoopUnavailable(Exception):
    """`LoopPool` has no connection to give (PostgreSQL unreachable): nothing was sent."""


class StatementFailed(Exception):
    """PostgreSQL refused the statement, or psycopg could not send its values: the statement, its own
    transaction, changed nothing."""


class OutcomeUnknown(Exception):
    """The connection broke while the statement was on its way or running: it may have committed, or not."""


@dataclass
class LoopTransaction:
    """A statement run on a `LoopPool` connection, once committed: the notes its after-commit hooks read
    (wins.db_flags), as a Session keeps them in `info`."""

    info: dict[Any, Any] = field(default_factory=dict)


def _stale(conn: psycopg.AsyncConnection[Any]) -> bool:
    """An idle connection has nothing to read; if it has, the server has ended it (a restart, an idle timeout:
    PostgreSQL sends a last error and closes). One poll of the socket instead of a round trip."""
    if conn.closed:
        return True
    poller = select.poll()  # not select.select: a server with thousands of WebSockets has descriptors past 1024
    try:
        poller.register(conn.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class LoopPool:
    """A few autocommit psycopg AsyncConnections for single statements run right on the event loop, with no thread
    hop (the issue express lane on PostgreSQL, wins.tickets.express). At most `size` statements, and connections,
    per process at once (WINS_DATABASE_ISSUE_CONNECTIONS); a caller beyond that waits its turn.

    Opened on first use, so a server that forks its workers (gunicorn) never shares a connection: a process that
    finds connections of its parent leaves them alone. Closed by the app's shutdown (`close`). Each statement is
    its own transaction and the session keeps no state, so a transaction-pooling PgBouncer serves these
    connections as it serves the request pool; psycopg prepares the statements it runs often unless
    `prepare_threshold` is None (WINS_DATABASE_PREPARED_STATEMENTS, docs/deployment.md)."""

    def __init__(
        self,
        url: str,
        *,
        size: int,
        prepare_threshold: int | None = 5,
        connect_timeout: int = 5,
        pause_after_failure: float = 1.0,
    ) -> None:
        self.conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.size = size
        self.prepare_threshold = prepare_threshold
        self.connect_timeout = connect_timeout
        self.pause_after_failure = pause_after_failure
        self._slots = asyncio.Semaphore(size)
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._pid = os.getpid()
        self._inherited: list[psycopg.AsyncConnection[Any]] = []
        self._down_until = 0.0
        self.connects = 0  # connections opened so far (tests, /metrics-style curiosity)

    async def fetchone(self, statement: LoopStatement, values: dict[str, Any]) -> tuple[Any, ...] | None:
        """Run `statement` in its own transaction and return its first row. Raises LoopUnavailable (nothing was
        sent), StatementFailed (it changed nothing) or OutcomeUnknown (it may have committed)."""
        async with self._slots:
            conn = await self._connection()
            try:
                cursor = await conn.execute(statement.sql, statement.params(values))
                row = await cursor.fetchone()
            except psycopg.Error as exc:
                if conn.closed:  # broken: the statement may have reached the server, and committed
                    raise OutcomeUnknown(str(exc)) from exc
                await self._put_back(conn)
                raise StatementFailed(str(exc)) from exc
            except BaseException:
                await conn.close()  # cancelled half-way: what it was doing is unknown, so it is not reused
                raise
            await self._put_back(conn)
            return row

    async def close(self) -> None:
        """Close the idle connections (at shutdown, when no request is running)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if os.getpid() != self._pid:  # forked since they were opened: the parent's to use and to close
            self._inherited.extend(self._idle)  # kept referenced: a finalised connection would end their session
            self._idle, self._pid = [], os.getpid()
        while self._idle:
            conn = self._idle.pop()  # the one used last
            if not _stale(conn):
                return conn
            await conn.close()
        if time.monotonic() < self._down_until:
            raise LoopUnavailable("PostgreSQL was unreachable a moment ago")
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.conninfo,
                autocommit=True,
                cursor_factory=psycopg.AsyncRawCursor,  # the statements come with $n parameters already
                connect_timeout=self.connect_timeout,
                prepare_threshold=self.prepare_threshold,
            )
        except psycopg.Error as exc:
            # Not again for a moment: every tap meanwhile goes straight to the route, which answers for itself.
            self._down_until = time.monotonic() + self.pause_after_failure
            logger.warning("issue connection to PostgreSQL failed: %s", exc)
            raise LoopUnavailable(str(exc)) from exc
        self.connects += 1
        return conn

    async def _put_back(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if conn.closed or os.getpid() != self._pid:
            return
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            await conn.close()
            return
        self._idle.append(conn)


class Database:
    """Engines and session factories for one process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.sqlalchemy_url
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            sync = settings.sqlite_synchronous
            self.write_engine, self.sqlite_write_lock = _sqlite_engine(self.url, immediate=True, synchronous=sync)
            self.read_engine, _ = _sqlite_engine(self.url, immediate=False, synchronous=sync)
        else:
            self.sqlite_write_lock = threading.Lock()  # unused: PostgreSQL arbitrates its own writers
            self.write_engine = create_engine(
                self.url,
                pool_size=10,
                max_overflow=20,
                pool_pre_ping=True,
                connect_args={"prepare_threshold": settings.prepare_threshold},
            )
            self.read_engine = self.write_engine
        # PostgreSQL: the connections for issuing on the event loop (wins.tickets.express), opened on first use.
        self.loop_pool: LoopPool | None = None
        if not self.is_sqlite and settings.database_issue_connections > 0:
            self.loop_pool = LoopPool(
                self.url, size=settings.database_issue_connections, prepare_threshold=settings.prepare_threshold
            )
        self._write = sessionmaker(self.write_engine, class_=WinsSession, expire_on_commit=False)
        # Read sessions are marked so caches keyed on "anything changed" can ignore their commits.
        self._read = sessionmaker(
            self.read_engine, class_=WinsSession, expire_on_commit=False, info=db_flags.read_only_info()
        )
        self.after_commit_hooks: list[Callable[[HasInfo], None]] = []
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpointer = threading.Event()
        # Per event loop: how many request write transactions may be open at once (see wins.deps).
        self.write_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error, then run after-commit hooks."""
        session = self.open(write=write)
        try:
            yield session
        except BaseException:
            self.rollback_and_close(session)
            raise
        self.commit_and_close(session)

    def raw_sqlite_write(self, work: Callable[[RawTransaction], T]) -> T:
        """Run `work` in one SQLite write transaction on a bare DBAPI connection, skipping the ORM and most of
        Core (the hot issue path: SQLAlchemy's per-statement machinery cost more than SQLite itself), then the
        after-commit hooks, as a Session's commit would. `work` notes what it wrote in the transaction's `info`
        (wins.db_flags; e.g. `note_events_written`), so the hooks learn it from the transaction itself.

        Never waits for this process's other writers: raises WriteLockBusy if one holds the write lock. The
        caller passes statements compiled by `RawStatement`, so values are stored exactly as SQLAlchemy would.
        (Another *process* holding the database, e.g. `wins backup`, is waited for by SQLite's busy timeout, as
        everywhere; a WINS server on SQLite is one process.)
        """
        assert self.is_sqlite
        if not self.sqlite_write_lock.acquire(blocking=False):
            raise WriteLockBusy
        try:
            proxy = self.write_engine.raw_connection()
        except BaseException:
            self.sqlite_write_lock.release()
            raise
        conn: Any = proxy.dbapi_connection
        conn.holds_write_lock = True  # released by its commit() or rollback()
        transaction = RawTransaction(conn)
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
                result = work(transaction)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        finally:
            proxy.close()
        self._run_hooks(transaction)
        return result

    def open(self, *, write: bool = True) -> Session:
        """A new session; it connects (and on SQLite takes the write lock) at its first query, not here."""
        return (self._write if write else self._read)()

    def commit_and_close(self, session: Session) -> None:
        try:
            session.commit()
        except BaseException:
            self.rollback_and_close(session)
            raise
        try:
            self._run_hooks(session)
        finally:
            session.close()

    def run_after_commit_hooks(self, committed: HasInfo) -> None:
        """For a transaction committed without a Session or `raw_sqlite_write` (a `LoopPool` statement): what its
        commit would have run."""
        self._run_hooks(committed)

    def _run_hooks(self, committed: HasInfo) -> None:
        for hook in self.after_commit_hooks:
            try:
                hook(committed)
            except Exception:  # a failing listener must not turn a committed write into an error
                logger.exception("after-commit hook failed")

    def rollback_and_close(self, session: Session) -> None:
        try:
            session.rollback()
        finally:
            session.close()

    def start_checkpointer(self) -> None:
        """SQLite: copy the WAL into the database every CHECKPOINT_SECONDS from a background thread (PASSIVE: it
        never waits for, nor blocks, readers and writers), so commits never do it themselves."""
        if not self.is_sqlite or self._checkpointer is not None:
            return
        self._stop_checkpointer.clear()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="wins-wal-checkpoint", daemon=True)
        self._checkpointer.start()

    def stop_checkpointer(self) -> None:
        if self._checkpointer is not None:
            self._stop_checkpointer.set()
            self._checkpointer.join(timeout=5)
            self._checkpointer = None

    def _checkpoint_loop(self) -> None:
        path = self.url.removeprefix("sqlite:///")
        try:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            logger.exception("WAL checkpointer could not open %s", path)
            return
        try:
            while not self._stop_checkpointer.wait(CHECKPOINT_SECONDS):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # e.g. the file went away in a test; try again next time
                    logger.warning("WAL checkpoint failed: %s", exc)
        finally:
            conn.close()

    async def close_loop_pool(self) -> None:
        if self.loop_pool is not None:
            await self.loop_pool.close()

    def dispose(self) -> None:
        self.stop_checkpointer()
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


def null_pool_engine(url: str) -> Engine:
    """A throwaway engine (migrations, admin tasks)."""
    return create_engine(url, poolclass=NullPool)
