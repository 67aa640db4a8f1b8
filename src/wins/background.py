"""The one way WINS runs a background job in each server process (push notifier, SMS sender, webhook deliverer):
a daemon thread that does a batch of work, then sleeps until the poll time passes or new events wake it.

In a server the event hub (wins.events.hub) is the one reader of the event log per process: after each read that
found events (committed here, or NOTIFYed by another worker or host) it calls the followers, which wake their
thread only when they have something to do with events (`wants_events`): a job that is idle (no push
subscription, no phone number, no webhook endpoint) or that another process holds the lease for does nothing per
event; it looks again at its poll period (`poll`). The woken job takes the new events from the hub's memory
(`events_after`), and reads the table only when it is further behind than the hub keeps. Without a hub (a job
made on its own, in a test or a tool) a commit of this process that wrote events wakes it.

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
import time
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Mapped, object_session

from wins import clock, db_flags
from wins.db import Database, HasInfo
from wins.events.hub import EventHub, LoggedEvent
from wins.events.service import last_event_id, settled_after

logger = logging.getLogger(__name__)
LEASE_SECONDS = 60


def worker_owner(worker: object) -> str:
    """Who holds a lease: host, process and object, so a lease names the exact worker (fits String(64))."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{id(worker) % 10000}"


class BackgroundWorker:
    """Subclasses implement `run_once()` (True: there may be more to do at once), may implement `poll()` (run
    first thing and then once per poll period: claim leases, find out whether there is anything to do) and
    `wants_events()` (whether new events are worth waking for), and may extend `start`/`stop`."""

    name = "wins-background"

    def __init__(self, db: Database, *, poll_seconds: float, hub: EventHub | None = None) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.hub = hub
        self.owner = worker_owner(self)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._poll_at = 0.0  # time.monotonic() of the next poll
        self.polls = 0  # polls done so far
        self.rounds = 0  # rounds (poll if due, then run_once) finished so far: what a test awaits, not a sleep

    def run_once(self) -> bool:
        raise NotImplementedError

    def poll(self) -> None:
        """Once per poll period, before `run_once`."""

    def wants_events(self) -> bool:
        """Whether new events should wake this job now (called on the hub's event loop: memory only, no I/O)."""
        return True

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._poll_at = 0.0
        if self.hub is not None:
            self.hub.followers.append(self)
        else:
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
        if self.hub is not None and self in self.hub.followers:
            self.hub.followers.remove(self)
        if self._after_commit in self.db.after_commit_hooks:
            self.db.after_commit_hooks.remove(self._after_commit)

    def wake(self) -> None:
        self._wake.set()

    def events_read(self, _events: list[LoggedEvent]) -> None:
        """The hub read new events (on its event loop; it asked `wants_events` first)."""
        self._wake.set()

    def _after_commit(self, committed: HasInfo) -> None:
        if db_flags.events_written(committed):
            self._wake.set()

    def events_after(self, cursor: int, *, limit: int) -> list[Any]:
        """Settled events after `cursor`, oldest first (at most `limit`): from the hub's memory when it has them,
        else from the table (only ids whose order is final: wins.events.service.settled_after). Each has `id`,
        `type` and `data`."""
        if self.hub is not None:
            events = self.hub.buffered_after(cursor, limit=limit)
            if events is not None:
                return events
        with self.db.read_engine.connect() as conn:
            rows, _held_back = settled_after(conn, cursor, limit=limit)
        return rows

    def newest_settled(self, session: Any) -> int:
        """An event id every event up to which is final and committed before this call: the hub's last read
        when there is a hub (no query), else the table's (wins.events.service.last_event_id)."""
        if self.hub is not None:
            return self.hub.last_id
        return last_event_id(session)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the work: a wake-up during it runs another round at once
            try:
                if time.monotonic() >= self._poll_at:
                    self._poll_at = time.monotonic() + self.poll_seconds
                    self.poll()
                    self.polls += 1
                busy = self.run_once()
            except Exception:  # a database hiccup: log, wait, try again; never take the server down
                logger.exception("%s failed; retrying", self.name)
                busy = False
            self.rounds += 1
            if not busy:
                self._wake.wait(max(0.0, self._poll_at - time.monotonic()))


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


class LeasedFollower(BackgroundWorker):
    """A job that follows the event log in one process at a time (the holder of `lease`), and only while rows of
    `work_model` exist (push subscriptions, phone numbers): asked at each poll, with one query.

    While idle the holder does nothing per event: at each poll it moves its cursor to the newest event the
    process knows, read *before* asking whether there is work. That skips only events committed before the
    question was asked, so before any row they could concern existed (a subscription concerns what happens after
    it is made: it starts with its ticket's current call count and no "near" sent); anything committed later is
    read as usual once there is work, from a cursor that never passed an unsettled id.

    A row made in this process is noted as it is inserted, with the newest settled event its transaction sees
    (all committed before the row): if the rows found at the next poll are all such, the cursor skips to there, so a
    subscription made here never sees events from before it; and that poll comes at once after the commit."""

    work_model: type[Any]
    MAX_NOTED = 32  # more rows than this at a poll: read on from the cursor (as if any were made elsewhere)

    def __init__(
        self, db: Database, *, poll_seconds: float, hub: EventHub | None, model: type[Any], row_id: int
    ) -> None:
        super().__init__(db, poll_seconds=poll_seconds, hub=hub)
        self.lease = CursorLease(db, model, row_id, self.owner)
        self.active = False  # whether rows of work_model exist (seen at the last poll; the first is at start)
        # row id -> (the newest settled event when it was inserted while idle, time.monotonic() then)
        self._noted: dict[int, tuple[int, float]] = {}
        self._note_key = f"wins_noted_{self.name}_{id(self)}"  # in the inserting Session's info (private here)

    def start(self) -> None:
        if self._thread is not None:
            return
        sa_event.listen(self.work_model, "after_insert", self._row_inserted)
        self.db.after_commit_hooks.append(self._after_row_commit)
        super().start()

    def stop(self, *, timeout: float = 15.0) -> None:
        if self._thread is None:
            return
        sa_event.remove(self.work_model, "after_insert", self._row_inserted)
        if self._after_row_commit in self.db.after_commit_hooks:
            self.db.after_commit_hooks.remove(self._after_row_commit)
        super().stop(timeout=timeout)
        self.lease.release()

    def _row_inserted(self, _mapper: Any, connection: Any, row: Any) -> None:
        if self.active or connection.engine is not self.db.write_engine:
            return
        if self.polls and self.lease.cursor is None:
            return  # another process follows the log
        # Read in the row's own transaction: every event up to it committed before the row can (not the hub's
        # last read, which may not have reached an event committed just before this request).
        self._noted[row.id] = (last_event_id(connection), time.monotonic())
        session = object_session(row)
        if session is not None:
            session.info[self._note_key] = True  # for `_after_row_commit`: this transaction made one

    def _after_row_commit(self, committed: HasInfo) -> None:
        if committed.info.pop(self._note_key, False):  # a row noted above just committed: look now
            self._poll_at = 0.0
            self._wake.set()

    def poll(self) -> None:
        if not self.lease.held():
            self._noted.clear()
            return  # another process follows the log; we try again next poll (or when its lease lapses)
        noted = dict(self._noted)
        with self.db.session(write=False) as session:
            newest = self.newest_settled(session)  # first: see the class docstring
            rows = list(session.scalars(select(self.work_model.id).limit(self.MAX_NOTED + 1)))
        was_active, self.active = self.active, bool(rows)
        skip_to = newest
        if rows and not was_active:
            # Rows only this process made while idle: the events before the first of them concern none.
            skip_to = min(noted.get(i, (-1, 0.0))[0] for i in rows) if len(rows) <= self.MAX_NOTED else -1
        for i in rows:
            self._noted.pop(i, None)  # a row still uncommitted at this poll stays noted for the next one
        stale = time.monotonic() - 60.0
        for i in [i for i, (_, at) in noted.items() if at < stale]:
            self._noted.pop(i, None)  # rolled back, or deleted before any poll saw it
        cursor = self.lease.cursor
        if (not rows or not was_active) and cursor is not None and skip_to > cursor:
            self.lease.moved(skip_to)  # kept in memory, written with the lease's next renewal

    def wants_events(self) -> bool:
        return self.active and self.lease.cursor is not None

    def following(self) -> int | None:
        """The cursor to read on from, or None: another process holds the lease, or there is nothing to do."""
        if not self.active or self.lease.cursor is None or not self.lease.held():
            return None
        return self.lease.cursor
