"""The one way WINS runs a background job in each server process (push notifier, SMS sender): a daemon thread
that does a batch of work, then sleeps until the poll time passes or a commit that wrote events wakes it.

And the one lease a job takes when only one process at a time may follow the event log (`CursorLease`): a single
state row with `cursor`, `lease_owner`, `lease_until`, claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL and
inside the `BEGIN IMMEDIATE` write transaction on SQLite. The holder keeps its cursor in memory and writes it
with each renewal, so an idle job writes about every LEASE_SECONDS / 3, not at every event.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Mapped

from wins import clock, db_flags
from wins.db import Database, HasInfo

logger = logging.getLogger(__name__)
LEASE_SECONDS = 60


def worker_owner(worker: object) -> str:
    """Who holds a lease: host, process and object, so a lease names the exact worker (fits String(64))."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{id(worker) % 10000}"


class BackgroundWorker:
    """Subclasses implement `run_once()` (True: there may be more to do at once) and may extend `start`/`stop`."""

    name = "wins-background"

    def __init__(self, db: Database, *, poll_seconds: float) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.owner = worker_owner(self)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self.db.after_commit_hooks.insert(0, self._after_commit)  # before the hub, which clears the note
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, *, timeout: float = 15.0) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout)
        self._thread = None
        if self._after_commit in self.db.after_commit_hooks:
            self.db.after_commit_hooks.remove(self._after_commit)

    def wake(self) -> None:
        self._wake.set()

    def _after_commit(self, committed: HasInfo) -> None:
        if db_flags.events_written(committed):
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # a database hiccup: log, wait, try again; never take the server down
                logger.exception("%s failed; retrying", self.name)
                busy = False
            if not busy:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()


class LeaseRow(Protocol):
    id: Mapped[int]
    cursor: Mapped[int]
    lease_owner: Mapped[str | None]
    lease_until: Mapped[Any]


class CursorLease:
    """The lease of one state row (`model`, primary key `row_id`) and the cursor into the event log it guards."""

    def __init__(self, db: Database, model: type[Any], row_id: int, owner: str) -> None:
        self.db = db
        self.model = model
        self.row_id = row_id
        self.owner = owner
        self.cursor: int | None = None  # while we hold the lease
        self._renew_at = clock.utcnow()

    def held(self) -> bool:
        """Hold (claim or renew when due) the lease; False: another worker has it."""
        if self.cursor is not None and clock.utcnow() < self._renew_at:
            return True
        return self._claim()

    def _claim(self) -> bool:
        now = clock.utcnow()
        model = self.model
        with self.db.session() as session:
            query = select(model).where(
                model.id == self.row_id,
                or_(model.lease_owner.is_(None), model.lease_owner == self.owner, model.lease_until < now),
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            state = session.scalar(query)
            if state is None:
                self.cursor = None
                return False
            if state.lease_owner == self.owner and self.cursor is not None:
                state.cursor = max(state.cursor, self.cursor)
            self.cursor = state.cursor
            state.lease_owner = self.owner
            state.lease_until = now + timedelta(seconds=LEASE_SECONDS)
        self._renew_at = now + timedelta(seconds=LEASE_SECONDS / 3)
        return True

    def advance(self, session: Any, cursor: int) -> None:
        """Move the cursor in this (write) session, only while the lease is still ours."""
        model = self.model
        session.execute(
            update(model).where(model.id == self.row_id, model.lease_owner == self.owner).values(cursor=cursor)
        )

    def moved(self, cursor: int) -> None:
        self.cursor = cursor

    def release(self) -> None:
        model = self.model
        with self.db.session() as session:
            values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
            if self.cursor is not None:
                values["cursor"] = self.cursor
            session.execute(update(model).where(model.lease_owner == self.owner).values(**values))
        self.cursor = None
