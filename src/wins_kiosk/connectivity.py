"""The kiosk's link to the server, on the background lane: health checks, reloading what events touch, and
status reports (printer, paper, spooled slips). It tells its owner (the `Kiosk`) when the link comes and goes and
when new data arrived; it never changes a screen itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from wins_kiosk.client import Event, KioskClient, Refused, ServerUnavailable, Unauthorized
from wins_kiosk.model import Loaded
from wins_kiosk.runner import JobResult, Runner

logger = logging.getLogger(__name__)

PARTS = ("services", "queue", "branch")  # what a reload can fetch


class LinkOwner(Protocol):
    def status_payload(self) -> dict[str, Any]: ...

    def link_up(self, loaded: Loaded) -> None:
        """The server answers again (or for the first time): `loaded` holds everything."""

    def link_down(self) -> None:
        """The server stopped answering (or refused the token)."""

    def data_loaded(self, loaded: Loaded) -> None:
        """A reload brought new data."""

    def heard(self, event: Event) -> None:
        """An event from the stream, before the reload it may cause."""


class Connection:
    def __init__(
        self,
        owner: LinkOwner,
        client: KioskClient,
        *,
        runner: Runner,
        clock: Callable[[], float],
        health_check_seconds: float,
    ) -> None:
        self.owner = owner
        self.client = client
        self.runner = runner
        self.clock = clock
        self.health_check_seconds = health_check_seconds
        self.online = False
        self.unauthorized = False  # the server refused this kiosk's token
        self.last_event_id: int | None = None
        self._busy: set[str] = set()
        self._stale: set[str] = set()
        self._next_health = clock()
        self._status_generation = 0
        self._status_reported = -1

    @property
    def checking_health(self) -> bool:
        return "health" in self._busy

    def start(self) -> None:
        self._next_health = self.clock()
        self._check_health()

    def close(self) -> None:
        self.client.close()

    def tick(self, now: float) -> None:
        if now >= self._next_health:
            self._check_health()
        if self.online and self._status_reported != self._status_generation:
            self.report_status()

    def lost(self, *, unauthorized: bool = False) -> None:
        """A request failed for want of the server (from any lane): offline until a health check succeeds."""
        if unauthorized:
            self.unauthorized = True
        self.online = False
        self._next_health = self.clock() + self.health_check_seconds
        self.owner.link_down()

    def reload(self, *parts: str) -> None:
        self._stale.update(parts)
        self._refresh()

    # -- status reports ---------------------------------------------------------------------------------

    def status_changed(self) -> None:
        """What `owner.status_payload()` says changed: tell the server (now, or once it is back)."""
        self._status_generation += 1
        self.report_status()

    def report_status(self) -> None:
        if "status" in self._busy or not self.online:
            return
        self._busy.add("status")
        generation = self._status_generation
        payload = self.owner.status_payload()
        client = self.client
        self.runner.submit(
            "background", lambda: client.report_status(payload), lambda res: self._status_done(generation, res)
        )

    def _status_done(self, generation: int, result: JobResult[None]) -> None:
        self._busy.discard("status")
        if result.error is None:
            self._status_reported = generation
        else:
            logger.warning("could not report the kiosk status: %s", result.error)

    # -- health ----------------------------------------------------------------------------------------

    def _check_health(self) -> None:
        self._next_health = self.clock() + self.health_check_seconds
        if "health" in self._busy:
            return
        self._busy.add("health")
        client = self.client
        full = not self.online
        self.runner.submit("background", lambda: _health(client, full=full), self._health_done)

    def _health_done(self, result: JobResult[Loaded]) -> None:
        self._busy.discard("health")
        if result.error is not None:
            logger.warning("server unavailable: %s", result.error)
            self.lost(unauthorized=isinstance(result.error, Unauthorized))
            return
        if not self.online:
            logger.info("server available")
            self.online = True
            self.unauthorized = False
            loaded = result.value or Loaded()
            self._note_queue(loaded)
            if self._status_reported != self._status_generation:
                self.report_status()
            self.owner.link_up(loaded)

    # -- live data -------------------------------------------------------------------------------------

    def on_events(self, events: list[Event]) -> None:
        """Events from the stream: reload what they touch."""
        for event in events:
            self.last_event_id = event.id
            self.owner.heard(event)
            kind = event.type.split(".")[0]
            if kind == "service":
                self._stale.add("services")
            elif kind == "branch":
                self._stale.add("branch")
            elif kind in ("ticket", "counter"):
                self._stale.add("queue")
        self._refresh()

    def on_stream(self, connected: bool) -> None:
        """The event stream was lost or is back: check the server now rather than at the next timer."""
        if connected:
            self.reload(*PARTS)
        self._check_health()

    def _refresh(self) -> None:
        if not self._stale or "refresh" in self._busy or not self.online:
            return
        parts, self._stale = set(self._stale), set()
        self._busy.add("refresh")
        client = self.client
        self.runner.submit("background", lambda: _load(client, parts), lambda res: self._refreshed(parts, res))

    def _refreshed(self, parts: set[str], result: JobResult[Loaded]) -> None:
        self._busy.discard("refresh")
        if result.error is not None:
            logger.warning("refresh failed: %s", result.error)
            self._stale.update(parts)
            if isinstance(result.error, ServerUnavailable):
                self._check_health()
            return
        loaded = result.value or Loaded()
        self._note_queue(loaded)
        self.owner.data_loaded(loaded)
        self._refresh()  # events that came in meanwhile

    def _note_queue(self, loaded: Loaded) -> None:
        if loaded.queue is not None and self.last_event_id is None:
            self.last_event_id = loaded.queue.last_event_id


# -- blocking work (runs on the runner's background thread) -------------------------------------------------


def _load(client: KioskClient, parts: set[str]) -> Loaded:
    return Loaded(
        setup=_setup(client) if "branch" in parts else None,
        branch=client.branch() if "branch" in parts else None,
        services=client.services() if "services" in parts else None,
        queue=client.queue() if "queue" in parts else None,
    )


def _health(client: KioskClient, *, full: bool) -> Loaded:
    if not full:
        if not client.health():
            raise ServerUnavailable("health check failed")
        return Loaded()
    # Coming back (or starting): everything may have changed while we were away.
    return _load(client, set(PARTS))


def _setup(client: KioskClient) -> dict[str, Any]:
    try:
        return client.kiosk_setup()
    except Refused as exc:  # a server without the endpoint: no priority choices, help still works
        if isinstance(exc, Unauthorized):
            raise
        logger.warning("kiosk setup unavailable: %s", exc)
        return {}
