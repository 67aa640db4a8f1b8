"""Targeted wake-ups of the event streams in a chain (wins.events.hub): an event of one branch wakes only the
screens that may show it, and a screen left asleep while other branches were busy catches up from the hub's
memory, every event of its own once and in order, with no read of the table. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import or_, select
from starlette.testclient import WebSocketTestSession
from websockets.sync.client import connect

from tests.security.test_streams import _closed_code, _server
from tests.support.seed import Seeded
from tests.test_events import _wait_for
from wins.app import create_app
from wins.branches.service import create_branch, get_branch
from wins.config import Settings
from wins.db import Database
from wins.devices.models import DeviceKind
from wins.devices.service import create_device
from wins.events.hub import EventHub, LoggedEvent
from wins.events.models import Event
from wins.events.service import record_event

WS = "/api/v1/events/ws"


@dataclass
class North:
    """The seeded branch (`a`, its display "display") and a second one, `b`, with its own display."""

    a: int
    b: int
    token: str


@pytest.fixture
def north(settings: Settings, seeded: Seeded) -> North:  # noqa: ARG001  (seeded: branch A must exist first)
    db = Database(settings)
    with db.session() as session:
        a = get_branch(session).id
        b = create_branch(session, name="North", timezone="Europe/Paris").id
        _, token = create_device(session, name="North display", kind=DeviceKind.display, branch_id=b, actor=None)
    db.dispose()
    return North(a=a, b=b, token=token)


class Spied:
    """The hub of a TestClient's app, with its reads of the table counted (`fetches`)."""

    def __init__(self, client: TestClient) -> None:
        self.hub: EventHub = client.app.state.hub  # type: ignore[attr-defined]
        self.db: Database = client.app.state.db  # type: ignore[attr-defined]
        self.fetches = 0
        fetch: Callable[[int, int], list[LoggedEvent]] = self.hub._fetch

        def counted(since: int, limit: int) -> list[LoggedEvent]:
            self.fetches += 1
            return fetch(since, limit)

        self.hub._fetch = counted

    def write(self, branches: list[int | None]) -> list[int]:
        """One transaction with an event of each of `branches` (None: of no branch); their ids, once the hub has
        read them."""
        with self.db.session() as session:
            ids = [record_event(session, "ticket.called", {"n": i}, branch_id=b).id for i, b in enumerate(branches)]
        _wait_for(lambda: self.hub.last_id >= ids[-1])
        return ids


@pytest.fixture
def small_buffer(settings: Settings) -> Settings:
    return settings.model_copy(update={"event_buffer_size": 40})


def _socket(client: TestClient, token: str, query: str = "") -> Any:
    return client.websocket_connect(f"{WS}{query}", headers={"Authorization": f"Bearer {token}"})


def _events(ws: WebSocketTestSession, count: int) -> list[dict[str, Any]]:
    """The next `count` events a socket sends (pings skipped)."""
    out: list[dict[str, Any]] = []
    while len(out) < count:
        frame = ws.receive_json()
        if frame["type"] != "ping":
            out.append(frame)
    return out


def _table_ids(db: Database, since: int, branch: int | None) -> list[int]:
    """Ids after `since` a screen of `branch` (None: head office, every branch) must get, from the table."""
    query = select(Event.id).where(Event.id > since, ~Event.type.startswith("auth.")).order_by(Event.id)
    if branch is not None:
        query = query.where(or_(Event.branch_id == branch, Event.branch_id.is_(None)))
    with db.session(write=False) as session:
        return list(session.scalars(query))


def test_a_screen_is_not_woken_by_another_branchs_events(small_buffer: Settings, seeded: Seeded, north: North) -> None:
    with TestClient(create_app(small_buffer)) as client:
        spied = Spied(client)
        hub = spied.hub
        with _socket(client, seeded.tokens["display"]) as a, _socket(client, north.token) as b:
            assert a.receive_json()["type"] == "hello" and b.receive_json()["type"] == "hello"
            _wait_for(lambda: hub.waiting == 2)
            before = hub.wakeups.copy()
            sent = []
            for _ in range(5):
                sent += spied.write([north.b] * 10)
            assert [e["id"] for e in _events(b, 50)] == sent
            # Branch B's screen was woken for its events; branch A's never.
            assert hub.wakeups[north.b] - before[north.b] >= 1
            assert hub.wakeups[north.a] == before[north.a]
            # Its own branch's next call wakes it, once, and it gets only that call.
            _wait_for(lambda: hub.waiting == 2)
            mine = spied.write([north.a])
            assert [e["id"] for e in _events(a, 1)] == mine
            assert hub.wakeups[north.a] == before[north.a] + 1
        assert spied.fetches == 0


def test_a_screen_asleep_while_other_branches_outrun_the_buffer_catches_up_from_memory(
    small_buffer: Settings, seeded: Seeded, north: North
) -> None:
    """Ten times the buffer (40 events) of branch B between branch A's events: A's screen gets each of its own
    events and each event of no branch exactly once, in order, and the hub never reads the table."""
    with TestClient(create_app(small_buffer)) as client:
        spied = Spied(client)
        with _socket(client, seeded.tokens["display"]) as a, _socket(client, north.token) as b:
            hello = a.receive_json()
            assert hello["type"] == "hello" and b.receive_json()["type"] == "hello"
            since = hello["last_id"]
            got: list[dict[str, Any]] = []
            for round in range(4):
                for _ in range(10):  # 400 of B's, each batch taken by B's screen before the next
                    sent = spied.write([north.b] * 40)
                    assert [e["id"] for e in _events(b, 40)] == sent
                if round == 2:
                    spied.write([None])  # of no branch: wakes everyone (A's screen among them)
                    got += _events(a, 1)
                    assert [e["branch_id"] for e in _events(b, 1)] == [None]
                spied.write([north.a, north.b, north.a])
                assert [e["branch_id"] for e in _events(b, 1)] == [north.b]
                got += _events(a, 2)
            assert [e["id"] for e in got] == _table_ids(spied.db, since, north.a)
            assert [e["branch_id"] for e in got] == [north.a] * 4 + [None] + [north.a] * 4
        assert spied.fetches == 0
        # The buffer itself holds only the recent end: without the per-branch index A would have read the table.
        assert spied.hub.buffered_after(since) is None


def test_a_screen_behind_the_buffer_with_nothing_of_its_own_since_moves_on_from_memory(
    small_buffer: Settings, seeded: Seeded, north: North
) -> None:
    """What a screen of a quiet branch does when its heartbeat or re-check wakes it after another branch
    flooded, shown with a screen that connects `since` a point the buffer has left behind: nothing of its own
    happened since, so it moves on without the table, and its next call still reaches it."""
    with TestClient(create_app(small_buffer)) as client:
        spied = Spied(client)
        with _socket(client, north.token) as b:  # a subscriber: the hub keeps reading whole events
            since = b.receive_json()["last_id"]
            for _ in range(5):
                sent = spied.write([north.b] * 40)
                assert [e["id"] for e in _events(b, 40)] == sent
            assert spied.hub.buffered_after(since) is None  # the buffer alone no longer reaches back
            with _socket(client, seeded.tokens["display"], f"?since={since}") as a:
                assert a.receive_json()["type"] == "hello"
                mine = spied.write([north.a])
                assert [e["id"] for e in _events(a, 1)] == mine
        assert spied.fetches == 0


def test_events_of_no_branch_reach_every_screen_and_head_office_gets_every_branch(
    small_buffer: Settings, seeded: Seeded, north: North
) -> None:
    with TestClient(create_app(small_buffer)) as client:
        spied = Spied(client)
        admin = seeded.tokens["admin"]
        with (
            _socket(client, seeded.tokens["display"]) as a,
            _socket(client, north.token) as b,
            _socket(client, admin, "?branch=all") as everything,
        ):
            since = a.receive_json()["last_id"]
            assert b.receive_json()["type"] == "hello" and everything.receive_json()["type"] == "hello"
            _wait_for(lambda: spied.hub.waiting == 3)
            writes: list[list[int | None]] = [[north.b, north.a], [None], [north.b] * 3, [north.a, None, north.b]]
            for branches in writes:
                spied.write(branches)
            expected = {who: _table_ids(spied.db, since, branch) for who, branch in (("a", north.a), ("b", north.b))}
            assert [e["id"] for e in _events(a, len(expected["a"]))] == expected["a"]
            assert [e["id"] for e in _events(b, len(expected["b"]))] == expected["b"]
            every = _table_ids(spied.db, since, None)
            assert [e["id"] for e in _events(everything, len(every))] == every
            assert len(every) == 9 and len(expected["a"]) == 4 and len(expected["b"]) == 7
            # Long-poll of branch A's display: its own and those of no branch.
            display = {"Authorization": f"Bearer {seeded.tokens['display']}"}
            r = client.get(f"/api/v1/events?since={since}&timeout=0", headers=display)
            assert [e["id"] for e in r.json()["events"]] == expected["a"]
        assert spied.fetches == 0


@pytest.fixture
def busy_north(settings: Settings, north: North) -> Iterator[threading.Event]:
    """Branch B busy: a thread writes its events, 20 a transaction, until the test ends."""
    stop = threading.Event()
    db = Database(settings)

    def flood() -> None:
        while not stop.is_set():
            with db.session() as session:
                for i in range(20):
                    record_event(session, "ticket.called", {"n": i}, branch_id=north.b)

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(10)
        db.dispose()


def test_a_revoked_screen_is_closed_at_once_while_another_branch_is_busy(
    settings: Settings, seeded: Seeded, north: North, busy_north: threading.Event, tmp_path: Path
) -> None:
    """The revocation's internal event wakes every screen, even one whose branch is quiet (the periodic
    re-check is 300 s off: only that event can close the socket in time)."""
    live = _server(settings, tmp_path).start()
    url = live.url.replace("http://", "ws://") + WS
    try:
        with (
            httpx.Client(base_url=live.url, timeout=10) as http,
            connect(url, additional_headers={"Authorization": f"Bearer {north.token}"}) as b,
            connect(url, additional_headers={"Authorization": f"Bearer {seeded.tokens['display']}"}) as a,
        ):
            assert json.loads(a.recv(timeout=5))["type"] == "hello"
            # Branch B's screen hears its branch's flood (the hub reads whole events and wakes B's screens).
            assert json.loads(b.recv(timeout=5))["type"] == "hello"
            assert json.loads(b.recv(timeout=5))["branch_id"] == north.b
            admin = {"Authorization": f"Bearer {seeded.tokens['admin']}"}
            devices = http.get("/api/v1/devices", headers=admin).json()
            display = next(d["id"] for d in devices if d["name"] == "display")
            assert http.post(f"/api/v1/devices/{display}/revoke", headers=admin).status_code == 200
            code, reason, took = _closed_code(a, within=5)
            assert code == 4401 and "revoked" in reason.lower()
            assert took < 3
        assert not busy_north.is_set()  # branch B was busy throughout
    finally:
        live.stop(kill=True)


def test_long_polls_and_tracking_pages_are_not_woken_by_another_branchs_events(
    settings: Settings, seeded: Seeded, north: North
) -> None:
    """A board's long-poll and a customer's tracking page in branch A sleep through branch B's events, and wake
    for their own branch's; the long-poll's `last_id` passes over B's events."""
    with TestClient(create_app(settings)) as client:
        spied = Spied(client)
        hub = spied.hub
        issued = client.post(
            "/api/v1/tickets",
            json={"service_id": seeded.services["A"]},
            headers={"Authorization": f"Bearer {seeded.tokens['kiosk']}"},
        )
        assert issued.status_code == 201, issued.text
        _wait_for(lambda: hub.last_id >= issued.json().get("event_id", 0))
        since = client.get(
            "/api/v1/events", params={"timeout": 0}, headers={"Authorization": f"Bearer {seeded.tokens['display']}"}
        ).json()["last_id"]
        answers: dict[str, Any] = {}

        def board() -> None:
            answers["board"] = client.get(
                "/api/v1/events",
                params={"since": since, "timeout": 20},
                headers={"Authorization": f"Bearer {seeded.tokens['display']}"},
            ).json()

        def phone() -> None:
            token = issued.json()["tracking_token"]
            answers["phone"] = client.get(
                f"/api/v1/public/tickets/{token}/updates", params={"since": since, "timeout": 20}
            ).json()

        threads = [threading.Thread(target=board), threading.Thread(target=phone)]
        for thread in threads:
            thread.start()
        mine = 0
        try:
            _wait_for(lambda: hub.waiting == 2)
            before = hub.wakeups.copy()
            for _ in range(3):
                spied.write([north.b] * 10)
            # Branch B's 30 events woke neither (no waiter of any scope was rung); both still wait.
            assert hub.wakeups == before
            assert all(thread.is_alive() for thread in threads) and hub.waiting == 2
        finally:  # branch A's event ends both waits, even when an assertion above failed
            with spied.db.session() as session:
                mine = record_event(session, "counter.updated", {"id": seeded.counters["1"]}, branch_id=north.a).id
            for thread in threads:
                thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in threads)
        assert hub.wakeups[north.a] == before[north.a] + 2
        assert [e["id"] for e in answers["board"]["events"]] == [mine]
        assert answers["board"]["last_id"] == mine
        assert answers["phone"]["last_id"] == mine and answers["phone"]["ticket"]["number"] == issued.json()["number"]
