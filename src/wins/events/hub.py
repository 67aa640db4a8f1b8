"""The event hub: wakes local subscribers when new events are committed.

Subscribers never receive events pushed from memory that might not be committed: the hub always reads the
event log table. What wakes it:
- in-process commits (an after-commit hook pokes it),
- PostgreSQL NOTIFY from any worker on any host (LISTEN on a dedicated connection),
- a slow safety-net poll (covers SQLite with several processes and a dropped LISTEN connection).
One pump task per process reads new rows once, encodes each event to JSON once and keeps the most recent
`buffer_size` in memory, so thousands of subscribers cost one query and one encoding per event, not one each.
It is the process's only reader of the log per wake-up: the background followers (push, SMS, webhooks:
wins.background) are woken by it after a read and take the events from its memory.
Under load, wake-ups are coalesced: while anyone in this process waits for events, a read starts at most every
READ_GAP_SECONDS (a few ms); while nobody does (no subscriber, no follower with work), at most every
QUIET_GAP_SECONDS, and the first subscriber to wait cuts that short.
A subscriber further behind than the buffer (a screen back from a long outage) reads the table instead, in
pages of 1,000.
Wake-ups are targeted: a waiter follows one branch (or all), and a read wakes only the waiters of the branches
its events belong to, the all-branch waiters, and everyone for an event of no branch or an internal one. So a
call in one branch of a chain does not wake the thousands of screens of the others. A screen left asleep while
other branches were busy catches up from a per-branch index of the buffer (`scoped_after`): its own branch's
events and the events of no branch, none of the others', and no table read however busy the others were.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import heapq
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import anyio

from wins.db import Database
from wins.db_flags import HasInfo, take_events_written
from wins.events.service import INTERNAL_PREFIX, NOTIFY_CHANNEL, last_event_id, settled_after

logger = logging.getLogger(__name__)

PAGE = 1000  # events per read of the table, and at most per answer
# PostgreSQL: newer events were held back because a transaction that may still commit a smaller id is running
# (wins.events.service.settled_after). Its commit usually NOTIFYs too, but one that wrote no event does not:
# read again after this delay, doubling up to the poll period, until the order is final.
HELD_BACK_RETRY_SECONDS = 0.002
# "What is committed now" (wait with timeout 0) waits at most this long for held-back events to settle, so a
# client that polls right after its own change sees it even while another worker's transaction is running.
SETTLE_WAIT_SECONDS = 2.0
# The least time between the starts of two reads: pokes (commits here, NOTIFYs from every other worker) that
# arrive meanwhile make one read. READ_GAP while someone waits (what it adds to call->screen at most, and only
# under load); QUIET_GAP while nobody in this process needs events (the internal listeners still see every
# internal event, in order, that much later at most; no stream is open for a revocation to close).
READ_GAP_SECONDS = 0.004
QUIET_GAP_SECONDS = 0.05


class Follower(Protocol):
    """A background job of this process that follows the log (wins.background.BackgroundWorker)."""

    def wants_events(self) -> bool:
        """Whether new events are of use to it now (memory only: called on the event loop)."""
        ...

    def events_read(self, events: list[LoggedEvent]) -> None:
        """The hub has read these (they are in its memory now)."""
        ...


# Compact and UTF-8 as is: the same bytes FastAPI's own JSON rendering gave long-poll answers.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class LoggedEvent(NamedTuple):
    """A committed event. `text` is its JSON (id, type, at, branch_id, data), encoded once by the hub and sent
    as is to every subscriber; `type` and `data` are kept for the few readers that look inside. `internal`
    events (a sign-in ended, see wins.events.service) are for the server's own streams and never sent."""

    id: int
    type: str
    data: dict[str, Any]
    text: str
    internal: bool = False
    branch_id: int | None = None  # subscribers follow one branch (wins.events.api); None: for every branch


def _event_id(event: LoggedEvent) -> int:
    return event.id


def _logged(id: int, type: str, at: str, branch_id: int | None, data: dict[str, Any]) -> LoggedEvent:
    text = _encode({"id": id, "type": type, "at": at, "branch_id": branch_id, "data": data})
    return LoggedEvent(id, type, data, text, type.startswith(INTERNAL_PREFIX), branch_id)


def _track_key(event: LoggedEvent) -> int | None:
    """The branch whose subscribers an event concerns; None: every subscriber's (no branch, or internal)."""
    return None if event.internal else event.branch_id


class Waiter:
    """One subscriber's wake-up call: rung by the hub when events of `branch_id` (None: of any branch) are
    committed, or by its owner (a closed socket, a heartbeat, a deadline). Check for events, then `wait()`, with
    no await in between: the hub and its subscribers share one event loop, so nothing committed in that gap can
    be missed."""

    __slots__ = ("_future", "_hub", "branch_id")

    def __init__(self, hub: EventHub, branch_id: int | None = None) -> None:
        self._hub = hub
        self.branch_id = branch_id
        self._future: asyncio.Future[None] | None = None

    async def wait(self) -> None:
        hub = self._hub
        future = self._future = asyncio.get_running_loop().create_future()
        hub._waiters.setdefault(self.branch_id, set()).add(self)
        if hub._quiet:
            hub._hurry.set()  # someone waits now: the read the hub was putting off starts at once
        try:
            await future
        finally:
            # The hub takes a branch's whole set when it rings it: this one is then gone, or another set.
            parked = hub._waiters.get(self.branch_id)
            if parked is not None:
                parked.discard(self)
                if not parked:
                    del hub._waiters[self.branch_id]
            self._future = None

    def ring(self) -> None:
        future = self._future
        if future is not None and not future.done():
            future.set_result(None)


class _Track:
    """The buffered events of one branch (or, key None, those of no branch and the internal ones), oldest
    first: a per-branch index of the hub's buffer. Every event of the track with id > `floor` is in it."""

    __slots__ = ("events", "floor", "ids")

    def __init__(self, floor: int) -> None:
        self.floor = floor
        self.ids: list[int] = []
        self.events: list[LoggedEvent] = []

    def after(self, since: int) -> list[LoggedEvent]:
        return self.events[bisect.bisect_right(self.ids, since) :]

    def drop_through(self, last: int) -> None:
        """Forget the events up to `last` (they left the hub's buffer)."""
        cut = bisect.bisect_right(self.ids, last)
        if cut:
            self.floor = self.ids[cut - 1]
            del self.ids[:cut]
            del self.events[:cut]


class EventHub:
    def __init__(self, db: Database, *, poll_seconds: float = 1.0, buffer_size: int = 2000) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.buffer_size = buffer_size
        self.last_id = 0
        # The buffer: every event with id > _floor, in order. _start: the hub has read the log continuously since
        # (its start, or its last skim).
        self._start = self._floor = 0
        self._ids: list[int] = []
        self._events: list[LoggedEvent] = []
        # The same events indexed by the branch they concern (key None: of no branch, or internal); a branch with
        # no track has had no event since _start. A track's own floor stays where its last event left the
        # buffer, so a quiet branch's screen catches up from memory however busy the others were.
        self._tracks: dict[int | None, _Track] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poke = asyncio.Event()
        self._hurry = asyncio.Event()
        self._quiet = False  # putting a read off for QUIET_GAP_SECONDS (nobody needed events)
        self._waiters: dict[int | None, set[Waiter]] = {}  # parked waiters by the branch they follow (None: all)
        # Waiters the hub has rung after reads, by the branch they follow (None: all): for tests and metrics.
        self.wakeups: Counter[int | None] = Counter()
        self._tasks: list[asyncio.Task[None]] = []
        # The LISTEN socket's reader is taken off the event loop from a NOTIFY until the next read of the log
        # starts (`_drain_notifies`): this resumes it.
        self._resume_listen: Callable[[], None] | None = None
        self.notify_wakeups = 0  # times the LISTEN socket was read and held NOTIFYs: for tests
        self.reads = 0  # reads of the log started: for tests
        self.subscribers = 0
        self.pumped_at: float | None = None  # time.monotonic() of the last successful read of the event log
        # Called on the event loop with each internal event (a sign-in ended) as it is read, once per process.
        self.internal_listeners: list[Callable[[LoggedEvent], None]] = []
        # Told on the event loop after each read that found events: the background followers of the log
        # (wins.background.BackgroundWorker) are woken here, once per read, whichever worker wrote the events.
        self.followers: list[Follower] = []
        # The buffer is read from the followers' threads too: `_append` and `buffered_after` hold this lock.
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.last_id = self._start = self._floor = await anyio.to_thread.run_sync(self._read_last_id)
        self.pumped_at = time.monotonic()
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

    @property
    def state(self) -> str:
        """For /health, /metrics and `wins doctor`: "ok", "stalled" (the event log has not been read for a few
        poll periods: screens are not being woken) or "stopped"."""
        if not self._tasks or any(task.done() for task in self._tasks):
            return "stopped"
        if self.pumped_at is None or time.monotonic() - self.pumped_at > 3 * self.poll_seconds + 5:
            return "stalled"
        return "ok"

    def _read_last_id(self) -> int:
        with self.db.session(write=False) as session:
            return last_event_id(session)

    # -- waking ----------------------------------------------------------------------------------------
    def _after_commit(self, session: HasInfo) -> None:
        if take_events_written(session):
            self.poke_threadsafe()

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

        # Straight to PostgreSQL when the pool goes through a transaction-pooling PgBouncer (docs/deployment.md).
        url = self.db.settings.session_conninfo
        delay = 0.5
        while True:
            conn: psycopg.AsyncConnection[Any] | None = None
            try:
                conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=5)
                await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                logger.info("listening for events on PostgreSQL channel %s", NOTIFY_CHANNEL)
                delay = 0.5
                self._poke.set()  # catch up on anything committed while we were not listening
                await self._drain_notifies(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("event LISTEN connection lost (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                # Not `async with conn`: its exit waits for the connection lock, which a cancelled
                # operation may still hold, and shutdown then hangs forever. close() does not wait.
                if conn is not None:
                    await conn.close()

    async def _drain_notifies(self, conn: Any) -> None:
        """Poke the pump at each batch of NOTIFYs until the connection breaks (raises). Every worker receives
        every event's NOTIFY, so without care this runs (events x workers) times: libpq's own calls on the
        socket when it is readable, one poke per batch, rather than psycopg's `notifies()` generator, which
        costs a Python round of its own for each NOTIFY (measured: ~7 % of a worker's CPU under 4-worker issue
        load).
        And once a NOTIFY has poked the pump, the socket is not watched again until the pump's next read starts:
        until then another NOTIFY could only poke it again, and the read is put off to the coalescing gap anyway
        (READ_GAP / QUIET_GAP). The NOTIFYs that arrive meanwhile wait in the socket (a few bytes each) and are
        taken in one go when the read starts; one that came after the read's query is still there then, and
        pokes the next read. So a worker wakes for NOTIFYs at most once per read of the log (20 times a second
        while nobody in it needs events), not once per event of every worker (docs/performance.md §7d)."""
        from psycopg import pq

        loop = asyncio.get_running_loop()
        pgconn = conn.pgconn
        broken: asyncio.Future[None] = loop.create_future()
        fd = conn.fileno()
        watched = False

        def watch() -> None:
            nonlocal watched
            if not watched and not broken.done():
                loop.add_reader(fd, readable)
                watched = True

        def readable() -> None:
            nonlocal watched
            try:
                pgconn.consume_input()
                got = False
                while pgconn.notifies() is not None:
                    got = True
                if pgconn.status != pq.ConnStatus.OK:
                    raise ConnectionError("the LISTEN connection was closed")
            except Exception as exc:  # the server went away: reconnect (the caller's loop)
                if not broken.done():
                    broken.set_exception(exc)
                return
            if got:
                self.notify_wakeups += 1
                self._poke.set()
                if watched:
                    loop.remove_reader(fd)
                    watched = False

        self._resume_listen = watch
        try:
            watch()
            readable()  # anything that arrived with the LISTEN's answer
            await broken
        finally:
            self._resume_listen = None
            if watched:
                loop.remove_reader(fd)

    def _needed(self) -> bool:
        """Whether anyone in this process waits for events now: a subscriber, or a follower with work."""
        return bool(self._waiters or self.subscribers or any(f.wants_events() for f in self.followers))

    async def _coalesce(self, started: float) -> None:
        """Wait until the gap after the previous read's start has passed (see READ_GAP_SECONDS)."""
        loop = asyncio.get_running_loop()
        self._quiet = not self._needed()
        delay = started + (QUIET_GAP_SECONDS if self._quiet else READ_GAP_SECONDS) - loop.time()
        if delay > 0:
            self._hurry.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hurry.wait(), timeout=min(delay, self.poll_seconds))
        self._quiet = False

    async def _pump(self) -> None:
        retry: float | None = None  # the delay before reading again while events are held back
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            timeout = self.poll_seconds if retry is None else retry
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), timeout=timeout)
            if self._poke.is_set():
                await self._coalesce(started)
            self._poke.clear()
            if self._resume_listen is not None:
                self._resume_listen()  # before the read: a NOTIFY of an event it misses pokes the next one
            self.reads += 1
            started = loop.time()
            # Nobody in this process needs the events themselves (no subscriber, no follower with work): skim
            # the log instead (how far it has gone, and its internal events), and forget the buffer. Whoever
            # asks for events later reads them from the table (buffered_after answers None below last_id).
            skim = not self._needed()
            try:
                if skim:
                    fresh, newest, more, held_back = await anyio.to_thread.run_sync(self._skim, self.last_id, PAGE)
                else:
                    fresh, held_back = await anyio.to_thread.run_sync(self._read, self.last_id, PAGE)
                    newest, more = (fresh[-1].id if fresh else None), len(fresh) == PAGE
            except Exception as exc:
                logger.warning("could not read the event log (%s); retrying", exc)
                await asyncio.sleep(self.poll_seconds)
                continue
            self.pumped_at = time.monotonic()
            # Held back: a running transaction may still commit a smaller id; it never stalls the pump, which
            # reads again soon (and at once on the next NOTIFY) and delivers everything once it has ended.
            if not held_back:
                retry = None
            elif retry is None or newest is not None:
                retry = HELD_BACK_RETRY_SECONDS
            else:
                retry = min(retry * 2, self.poll_seconds)
            if newest is None:
                continue
            if skim:
                self._skip_to(newest)
            else:
                self._append(fresh)
            for event in fresh:
                if event.internal:
                    for listener in self.internal_listeners:
                        listener(event)
            if more:
                self._poke.set()  # more to read
            self._ring(fresh, everyone=skim)
            for follower in self.followers:
                if follower.wants_events():
                    follower.events_read(fresh)

    def _ring(self, fresh: list[LoggedEvent], *, everyone: bool) -> None:
        """Wake the waiters whose scope may show one of `fresh`: the all-branch ones and those of the events'
        branches; everyone for an event of no branch or an internal one (rare), or after a skim (the buffer was
        dropped: whoever waits must look again)."""
        if everyone or any(_track_key(event) is None for event in fresh):
            rung = list(self._waiters.items())
            self._waiters = {}
        else:
            rung = []
            for branch_id in {None, *(event.branch_id for event in fresh)}:
                parked = self._waiters.pop(branch_id, None)
                if parked:
                    rung.append((branch_id, parked))
        for branch_id, waiters in rung:
            self.wakeups[branch_id] += len(waiters)
            for waiter in waiters:
                waiter.ring()

    def _read(self, since: int, limit: int) -> tuple[list[LoggedEvent], bool]:
        """Committed events after `since` whose order is final, and whether newer ones were held back."""
        # Core, not ORM: this runs after every commit, and building ORM objects cost more than the query.
        with self.db.read_engine.connect() as conn:
            rows, held_back = settled_after(conn, since, limit=limit)
        return [_logged(r.id, r.type, r.at.isoformat(), r.branch_id, r.data) for r in rows], held_back

    def _skim(self, since: int, limit: int) -> tuple[list[LoggedEvent], int | None, bool, bool]:
        """The internal events after `since` whose order is final, the last settled id (None: nothing new),
        whether a whole page came (there may be more) and whether newer ones were held back; the other events'
        bodies are neither fetched nor decoded nor encoded."""
        with self.db.read_engine.connect() as conn:
            rows, held_back = settled_after(conn, since, limit=limit, bodies=False)
        internal = [
            _logged(r.id, r.type, r.at.isoformat(), r.branch_id, r.data)
            for r in rows
            if r.type.startswith(INTERNAL_PREFIX)
        ]
        return internal, (rows[-1].id if rows else None), len(rows) == limit, held_back

    def _fetch(self, since: int, limit: int) -> list[LoggedEvent]:
        return self._read(since, limit)[0]

    def _append(self, fresh: list[LoggedEvent]) -> None:
        with self._lock:
            self._events.extend(fresh)
            self._ids.extend(e.id for e in fresh)
            tracks = self._tracks
            for event in fresh:
                key = _track_key(event)
                track = tracks.get(key)
                if track is None:
                    track = tracks[key] = _Track(self._start)  # none of its events since the hub began reading
                track.ids.append(event.id)
                track.events.append(event)
            self.last_id = self._ids[-1]
            # Trimmed in steps of a quarter, so the copy is amortised; memory stays under 1.25 x buffer_size
            # events (always at least the last page read, which every waiting subscriber is about to take).
            keep = max(self.buffer_size, len(fresh))
            if len(self._ids) > keep + keep // 4:
                cut = len(self._ids) - keep
                self._floor = self._ids[cut - 1]
                for key in {_track_key(event) for event in self._events[:cut]}:
                    tracks[key].drop_through(self._floor)
                del self._ids[:cut]
                del self._events[:cut]

    def _skip_to(self, newest: int) -> None:
        """Move on to `newest` without keeping the events up to it: the buffer starts again after it."""
        with self._lock:
            self._ids.clear()
            self._events.clear()
            self._tracks.clear()
            self.last_id = self._start = self._floor = newest

    # -- reading ---------------------------------------------------------------------------------------
    def buffered_after(self, since: int, *, limit: int = PAGE) -> list[LoggedEvent] | None:
        """Events with id > since known to this process, oldest first, from memory; None when `since` is
        older than the buffer (ask `events_after`, which reads the table). Safe from any thread."""
        with self._lock:
            if since >= self.last_id:
                return []
            if since >= self._floor:
                start = bisect.bisect_right(self._ids, since)
                return self._events[start : start + limit]
            return None

    def scoped_after(
        self, since: int, branch_id: int | None, *, limit: int = PAGE
    ) -> tuple[list[LoggedEvent], int] | None:
        """What a subscriber of `branch_id` (None: every branch) needs after `since`, from memory: the events of
        that branch, of no branch and the internal ones, oldest first, and the position to go on from (the last
        event read when nothing more concerns it, so a screen of a quiet branch skips the others' events
        without looking at them). None when memory does not reach back to `since`: read `events_after`."""
        with self._lock:
            last = self.last_id
            if since >= last:
                return [], since
            if branch_id is None:
                if since < self._floor:
                    return None
                start = bisect.bisect_right(self._ids, since)
                events = self._events[start : start + limit]
            else:
                own, common = self._tracks.get(branch_id), self._tracks.get(None)
                floor = max(own.floor if own else self._start, common.floor if common else self._start)
                if since < floor:
                    return None
                mine = own.after(since) if own else []
                shared = common.after(since) if common else []
                if mine and shared:
                    events = list(heapq.merge(mine, shared, key=_event_id))
                else:
                    events = mine or shared
        if len(events) >= limit:
            events = events[:limit]
            return events, events[-1].id
        return events, last

    async def wait_scoped(
        self, since: int, branch_id: int | None, *, timeout: float, limit: int = PAGE
    ) -> tuple[list[LoggedEvent], int]:
        """Events after `since` for a subscriber of one branch (`branch_id`; None: every branch), waiting up to
        `timeout` seconds when there are none yet: woken only by events of that branch, of no branch and
        internal ones, like a WebSocket screen, not by every branch's. Returns
        the events after `since` that may concern it (others too, when they had to be read from the table) and
        the position to go on from, which passes over the other branches' events."""
        loop = asyncio.get_running_loop()
        if timeout <= 0:
            events = await self._committed_now(since, limit, loop.time() + SETTLE_WAIT_SECONDS)
            return events, (events[-1].id if events else since)
        deadline = loop.time() + timeout
        waiter = Waiter(self, branch_id)
        timer = loop.call_at(deadline, waiter.ring)
        position = since
        try:
            while True:
                found = self.scoped_after(position, branch_id, limit=limit)
                if found is None:  # further behind than memory reaches
                    events = await anyio.to_thread.run_sync(self._fetch, position, limit)
                    reached = events[-1].id if events else position
                else:
                    events, reached = found
                position = max(position, reached)
                if events or loop.time() >= deadline:
                    return events, position
                await waiter.wait()  # straight after the check: see Waiter
        finally:
            timer.cancel()

    async def events_after(self, since: int, *, limit: int = PAGE) -> list[LoggedEvent]:
        """Committed events with id > since, oldest first: from memory when possible, else from the table."""
        events = self.buffered_after(since, limit=limit)
        if events is not None:
            return events
        return await anyio.to_thread.run_sync(self._fetch, since, limit)

    async def _committed_now(self, since: int, limit: int, deadline: float) -> list[LoggedEvent]:
        """Every event committed before this call, from the table (not the buffer the pump may not have filled
        yet); events held back behind a running transaction are waited for until `deadline`."""
        delay = HELD_BACK_RETRY_SECONDS
        while True:
            events, held_back = await anyio.to_thread.run_sync(self._read, since, limit)
            if not held_back or len(events) >= limit or asyncio.get_running_loop().time() >= deadline:
                return events
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)

    def waiter(self, branch_id: int | None = None) -> Waiter:
        """A wake-up call for a subscriber of `branch_id` (None: of every branch)."""
        return Waiter(self, branch_id)

    @property
    def waiting(self) -> int:
        """How many subscribers are parked waiting for the next event (what a test awaits instead of sleeping)."""
        return sum(len(parked) for parked in self._waiters.values())

    async def wait(self, since: int, *, timeout: float, limit: int = PAGE) -> list[LoggedEvent]:
        """Events after `since`; if there are none yet, wait up to `timeout` seconds for some."""
        return (await self.wait_scoped(since, None, timeout=timeout, limit=limit))[0]
