"""The event hub: wakes local subscribers when new events are committed.

Subscribers never receive events pushed from memory that might not be committed: the hub always reads the
event log table. What wakes it:
- in-process commits (an after-commit hook pokes it),
- PostgreSQL NOTIFY from any worker on any host (LISTEN on a dedicated connection),
- a slow safety-net poll (covers SQLite with several processes and a dropped LISTEN connection).
One pump task per process reads new rows once and keeps recent ones in memory, so thousands of
subscribers cost one query per change, not one each.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session

from wins.db import Database
from wins.events.models import Event
from wins.events.service import NOTIFY_CHANNEL, events_after, last_event_id

logger = logging.getLogger(__name__)

EventDict = dict[str, Any]


class EventHub:
    def __init__(self, db: Database, *, poll_seconds: float = 1.0, buffer_size: int = 20000) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.buffer_size = buffer_size
        self.last_id = 0
        self._ids: list[int] = []
        self._events: list[EventDict] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poke = asyncio.Event()
        self._new = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.subscribers = 0

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.last_id = await anyio.to_thread.run_sync(self._read_last_id)
        self._tasks.append(asyncio.create_task(self._pump(), name="wins-event-pump"))
        if not self.db.is_sqlite:
            self._tasks.append(asyncio.create_task(self._listen(), name="wins-event-listen"))
        self.db.after_commit_hooks.append(self._after_commit)

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.db.after_commit_hooks.remove(self._after_commit)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: a task stuck in a driver call must not hold the server's shutdown.
            _, stuck = await asyncio.wait(self._tasks, timeout=3)
            for task in stuck:
                logger.warning("event hub task %s did not stop in time", task.get_name())
        self._tasks.clear()

    def _read_last_id(self) -> int:
        with self.db.session(write=False) as session:
            return last_event_id(session)

    # -- waking ----------------------------------------------------------------------------------------
    def _after_commit(self, session: Session) -> None:
        if session.info.pop("wins_events_written", False):
            self.poke_threadsafe()
        session.info.pop("wins_event_lock", None)

    def poke_threadsafe(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._poke.set()
        else:
            loop.call_soon_threadsafe(self._poke.set)

    async def _listen(self) -> None:
        import psycopg

        url = self.db.url.replace("postgresql+psycopg://", "postgresql://")
        delay = 0.5
        while True:
            conn: psycopg.AsyncConnection[Any] | None = None
            try:
                conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=5)
                await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                logger.info("listening for events on PostgreSQL channel %s", NOTIFY_CHANNEL)
                delay = 0.5
                self._poke.set()  # catch up on anything committed while we were not listening
                async for _ in conn.notifies():
                    self._poke.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("event LISTEN connection lost (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                # Not `async with conn`: its exit waits for the connection lock, which a cancelled
                # notifies() generator may still hold, and shutdown then hangs forever. close() does not wait.
                if conn is not None:
                    await conn.close()

    async def _pump(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), timeout=self.poll_seconds)
            self._poke.clear()
            try:
                fresh = await anyio.to_thread.run_sync(self._fetch, self.last_id)
            except Exception as exc:
                logger.warning("could not read the event log (%s); retrying", exc)
                await asyncio.sleep(self.poll_seconds)
                continue
            if not fresh:
                continue
            self._append(fresh)
            if len(fresh) == 1000:
                self._poke.set()  # more to read
            waking, self._new = self._new, asyncio.Event()
            waking.set()

    def _fetch(self, since: int) -> list[EventDict]:
        # Core, not ORM: this runs after every commit, and building ORM objects cost more than the query.
        table = Event.__table__
        query = select(table).where(table.c.id > since).order_by(table.c.id).limit(1000)
        with self.db.read_engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {"id": r.id, "type": r.type, "at": r.at.isoformat(), "branch_id": r.branch_id, "data": r.data}
            for r in rows
        ]

    def _append(self, fresh: list[EventDict]) -> None:
        self._events.extend(fresh)
        self._ids.extend(e["id"] for e in fresh)
        self.last_id = self._ids[-1]
        if len(self._ids) > 2 * self.buffer_size:
            del self._ids[: -self.buffer_size]
            del self._events[: -self.buffer_size]

    # -- reading ---------------------------------------------------------------------------------------
    async def events_after(self, since: int, *, limit: int = 1000) -> list[EventDict]:
        """Committed events with id > since, oldest first, from memory when possible."""
        if since >= self.last_id:
            return []
        if self._ids and since >= self._ids[0] - 1:
            start = bisect.bisect_right(self._ids, since)
            return self._events[start : start + limit]
        return await anyio.to_thread.run_sync(lambda: self._fetch_limited(since, limit))

    def _fetch_limited(self, since: int, limit: int) -> list[EventDict]:
        with self.db.session(write=False) as session:
            return events_after(session, since, limit=limit)

    async def wait(self, since: int, *, timeout: float, limit: int = 1000) -> list[EventDict]:
        """Events after `since`; if there are none yet, wait up to `timeout` seconds for some."""
        if timeout <= 0:
            # "Give me what is committed now": read the table, not the buffer the pump may not have filled yet.
            return await anyio.to_thread.run_sync(lambda: self._fetch_limited(since, limit))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            new = self._new
            events = await self.events_after(since, limit=limit)
            if events:
                return events
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(new.wait(), timeout=remaining)
