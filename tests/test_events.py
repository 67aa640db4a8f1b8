"""The event stream: WebSocket and long-poll, replay with `since`, only committed events, and on PostgreSQL
delivery across server processes through LISTEN/NOTIFY."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from websockets.sync.client import connect

from tests.conftest import Api
from tests.support.databases import TemplateCache
from tests.support.seed import Seeded, seed
from tests.support.server import LiveServer
from wins.app import create_app
from wins.config import Settings
from wins.events.hub import EventHub


def _last_id(api: Api) -> int:
    return int(api.client.get("/api/v1/queue", headers=api.auth("display")).json()["last_event_id"])


def test_websocket_receives_a_call(api: Api) -> None:
    t = api.issue("A")
    since = _last_id(api)
    with api.client.websocket_connect(f"/api/v1/events/ws?since={since}", headers=api.auth("display")) as ws:
        assert ws.receive_json()["type"] == "hello"
        api.call_next("2")
        event = ws.receive_json()
        while event["type"] != "ticket.called":
            event = ws.receive_json()
    assert event["data"]["number"] == t["number"] and event["data"]["counter_name"] == "2"
    assert event["id"] > since


def test_websocket_without_token_is_refused(api: Api) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as info, api.client.websocket_connect("/api/v1/events/ws") as ws:
        ws.receive_json()
    assert info.value.code == 4401


def test_long_poll_waits_for_and_returns_a_call(api: Api) -> None:
    api.issue("A")
    since = _last_id(api)
    result: dict[str, Any] = {}

    def poll() -> None:
        r = api.client.get(f"/api/v1/events?since={since}&timeout=10", headers=api.auth("display"))
        result.update(r.json())

    waiter = threading.Thread(target=poll)
    started = time.monotonic()
    waiter.start()
    hub = api.client.app.state.hub  # type: ignore[attr-defined]
    _wait_for(lambda: hub.waiting > 0)  # the poll is parked in the hub: now the call must wake it
    api.call_next("1")
    waiter.join(15)
    assert time.monotonic() - started < 5  # woken by the call, not by the timeout
    types = [e["type"] for e in result["events"]]
    assert "ticket.called" in types
    assert result["last_id"] == result["events"][-1]["id"]


def test_long_poll_times_out_empty(api: Api) -> None:
    since = _last_id(api)
    r = api.client.get(f"/api/v1/events?since={since}&timeout=0.3", headers=api.auth("display"))
    assert r.status_code == 200
    assert r.json() == {"events": [], "last_id": since}


def test_reconnect_with_since_gets_exactly_what_was_missed(api: Api) -> None:
    since = _last_id(api)
    a = api.issue("A")
    api.issue("B")
    api.call_next("1")
    api.act(a["id"], "recall")
    r = api.client.get(f"/api/v1/events?since={since}&timeout=0", headers=api.auth("display"))
    everything = r.json()["events"]
    # Calling also seats the caller at the counter (a counter.updated event); the ticket events are in order.
    assert [e["type"] for e in everything if e["type"] == "counter.updated"] == ["counter.updated"]
    events = [e for e in everything if e["type"].startswith("ticket.")]
    assert [e["type"] for e in events] == ["ticket.issued", "ticket.issued", "ticket.called", "ticket.recalled"]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 4
    # Resuming from the middle gives the rest, nothing more, nothing twice.
    all_ids = [e["id"] for e in everything]
    after = all_ids[all_ids.index(ids[1]) + 1 :]
    rest = api.client.get(f"/api/v1/events?since={ids[1]}&timeout=0", headers=api.auth("display")).json()
    assert [e["id"] for e in rest["events"]] == after
    with api.client.websocket_connect(f"/api/v1/events/ws?since={ids[1]}", headers=api.auth("display")) as ws:
        assert ws.receive_json()["type"] == "hello"
        assert [ws.receive_json()["id"] for _ in after] == after


def _wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_catch_up_beyond_the_memory_buffer_reads_the_log_every_event_once_in_order(
    settings: Settings, seeded: Seeded
) -> None:
    """The hub keeps only the last `event_buffer_size` events in memory; a subscriber further behind gets the
    older ones from the table and the rest from memory, with nothing lost or repeated at the seam."""
    from wins.events.models import Event
    from wins.events.service import record_event

    small = settings.model_copy(update={"event_buffer_size": 500})
    with TestClient(create_app(small)) as client:
        api = Api(client, seeded)
        hub: EventHub = client.app.state.hub  # type: ignore[attr-defined]
        db = client.app.state.db  # type: ignore[attr-defined]
        since = _last_id(api)
        # A screen is connected meanwhile: a hub nobody listens to keeps no events in memory (it skims the log).
        with client.websocket_connect(f"/api/v1/events/ws?since={since}", headers=api.auth("display")) as live:
            assert live.receive_json()["type"] == "hello"
            for batch in range(12):  # 1,200 events, 100 per transaction, each read by the hub before the next
                with db.session() as session:
                    for i in range(100):
                        data = {"id": batch * 100 + i, "number": f"A{i:03d}", "service_id": 1}
                        last = record_event(session, "ticket.called", data, branch_id=None).id
                _wait_for(lambda last=last: hub.last_id >= last)
        with db.session(write=False) as session:
            expected = list(session.scalars(select(Event.id).where(Event.id > since).order_by(Event.id)))
        assert len(expected) == 1200
        # Memory holds only the recent end (at most 1.25 x 500 events): the start must come from the table.
        assert hub.buffered_after(since) is None
        assert hub.buffered_after(expected[-626]) is None
        assert [e.id for e in hub.buffered_after(expected[-501]) or []] == expected[-500:]
        # Every starting point around the oldest event kept in memory: the next five, none skipped or repeated.
        for i in range(len(expected) - 700, len(expected) - 450):
            r = client.get(f"/api/v1/events?since={expected[i]}&timeout=5&limit=5", headers=api.auth("display"))
            assert [e["id"] for e in r.json()["events"]] == expected[i + 1 : i + 6]

        with client.websocket_connect(f"/api/v1/events/ws?since={since}", headers=api.auth("display")) as ws:
            assert ws.receive_json()["type"] == "hello"
            by_socket = [ws.receive_json() for _ in expected]  # a table page of 1,000, then memory
        assert [e["id"] for e in by_socket] == expected

        by_poll: list[dict[str, Any]] = []
        position = since
        while position < expected[-1]:  # pages of 70: table, a page across the seam, then memory
            r = client.get(f"/api/v1/events?since={position}&timeout=5&limit=70", headers=api.auth("display"))
            body = r.json()
            assert body["events"], body
            by_poll += body["events"]
            position = body["last_id"]
        assert by_poll == by_socket
        assert by_poll[0] == {
            "id": expected[0],
            "type": "ticket.called",
            "at": by_poll[0]["at"],
            "branch_id": None,
            "data": {"id": 0, "number": "A000", "service_id": 1},
        }


def test_websocket_pings_a_quiet_screen_then_still_delivers(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    import wins.events.api

    monkeypatch.setattr(wins.events.api, "HEARTBEAT_SECONDS", 0.2)
    api.issue("A")
    with api.client.websocket_connect("/api/v1/events/ws", headers=api.auth("display")) as ws:
        assert ws.receive_json()["type"] == "hello"
        assert ws.receive_json() == {"type": "ping"}
        assert ws.receive_json() == {"type": "ping"}
        api.call_next("1")
        event = ws.receive_json()
        while event["type"] == "ping":
            event = ws.receive_json()
        assert event["type"] in ("ticket.called", "counter.updated")


@contextlib.contextmanager
def _served_in_thread(app: FastAPI) -> Iterator[str]:
    """A real uvicorn server for `app` on a thread of this process, so the test can look at the app's hub.
    (TestClient cancels the whole app when a socket closes, which would hide how the server notices.)"""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait_for(lambda: server.started)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def test_closed_websocket_is_let_go_at_once(settings: Settings, seeded: Seeded) -> None:
    app = create_app(settings)
    with _served_in_thread(app) as address:
        hub: EventHub = app.state.hub
        headers = {"Authorization": f"Bearer {seeded.tokens['display']}"}
        with connect(f"ws://{address}/api/v1/events/ws", additional_headers=headers) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
            _wait_for(lambda: hub.subscribers == 1)
        _wait_for(lambda: hub.subscribers == 0, timeout=3)  # not at the next heartbeat, 20 s on


def test_one_commit_answers_every_waiting_long_poll_and_short_timeouts_end_on_time(api: Api) -> None:
    api.issue("A")
    since = _last_id(api)
    answers: list[dict[str, Any]] = []
    quick: dict[str, Any] = {}

    def poll(timeout: float, into: list[dict[str, Any]] | dict[str, Any]) -> None:
        r = api.client.get(f"/api/v1/events?since={since}&timeout={timeout}", headers=api.auth("display"))
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        if isinstance(into, list):
            into.append(r.json())
        else:
            into.update(r.json(), took=time.monotonic() - started)

    started = time.monotonic()
    waiters = [threading.Thread(target=poll, args=(20, answers)) for _ in range(10)]
    short = threading.Thread(target=poll, args=(0.4, quick))
    for thread in [*waiters, short]:
        thread.start()
    short.join(5)
    assert quick["events"] == [] and quick["last_id"] == since
    assert 0.35 < quick["took"] < 3
    assert not answers  # the others still wait
    api.call_next("1")
    for thread in waiters:
        thread.join(10)
    assert len(answers) == 10
    assert time.monotonic() - started < 10  # woken by the call, not by their timeout
    assert all(a == answers[0] for a in answers)
    assert "ticket.called" in [e["type"] for e in answers[0]["events"]]


def test_refused_actions_leave_no_event(api: Api) -> None:
    t = api.issue("A")
    since = _last_id(api)
    assert api.client.post(f"/api/v1/tickets/{t['id']}/start", headers=api.auth("staff")).status_code == 409
    bad = api.client.post(f"/api/v1/tickets/{t['id']}/transfer", json={"service_id": 99999}, headers=api.auth("staff"))
    assert bad.status_code == 404
    r = api.client.get(f"/api/v1/events?since={since}&timeout=0", headers=api.auth("display"))
    assert r.json()["events"] == []


def test_rolled_back_change_never_reaches_subscribers(settings: Settings, seeded) -> None:  # type: ignore[no-untyped-def]
    """A transaction that wrote an event and then failed must not wake or feed anyone."""
    from wins.db import Database
    from wins.events.models import Event
    from wins.events.service import record_event

    db = Database(settings)
    # The newest id in the table, not last_event_id: that one may hold back ids while a transaction of another
    # database of the cluster that PostgreSQL's activity view has not caught up with is open (other tests).
    newest = select(func.max(Event.id))
    with db.session(write=False) as session:
        before = session.scalar(newest)

    def crash_before_commit() -> None:
        with db.session() as session:
            record_event(session, "ticket.called", {"number": "Z999"}, branch_id=None)
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        crash_before_commit()
    with db.session(write=False) as session:
        assert session.scalar(newest) == before
        assert session.scalar(select(func.count()).where(Event.data["number"].as_string() == "Z999")) == 0
    db.dispose()


@pytest.mark.postgres
def test_postgres_event_reaches_a_subscriber_on_another_server_process(
    templates: TemplateCache, tmp_path: Path
) -> None:
    with templates.database("postgres", tmp_path) as url:
        settings = Settings(database_url=url, data_dir=tmp_path / "d", secret_key="k" * 40)
        data = seed(settings)
        # The safety-net poll is slowed to 30 s: only LISTEN/NOTIFY can deliver within the deadline.
        env = {
            "WINS_DATABASE_URL": url,
            "WINS_SECRET_KEY": "k" * 40,
            "WINS_EVENT_POLL_SECONDS": "30",
            "WINS_DATA_DIR": str(tmp_path / "d"),
        }
        one = LiveServer(env, log_path=tmp_path / "one.log").start()
        two = LiveServer(env, log_path=tmp_path / "two.log").start()
        try:
            headers = {"Authorization": f"Bearer {data.tokens['staff']}"}
            ticket = httpx.post(
                f"{one.url}/api/v1/tickets", json={"service_id": data.services["A"]}, headers=headers
            ).json()
            since = httpx.get(f"{two.url}/api/v1/queue", headers=headers).json()["last_event_id"]
            ws_url = two.url.replace("http://", "ws://") + f"/api/v1/events/ws?since={since}"
            with connect(ws_url, additional_headers=headers, open_timeout=10) as ws:
                assert json.loads(ws.recv(timeout=5))["type"] == "hello"
                time.sleep(0.5)  # let server two's LISTEN settle before the change
                sent = time.monotonic()
                r = httpx.post(f"{one.url}/api/v1/counters/{data.counters['1']}/call-next", headers=headers)
                assert r.status_code == 200
                while True:
                    event = json.loads(ws.recv(timeout=5))
                    if event.get("type") == "ticket.called":
                        break
                delay = time.monotonic() - sent
            assert event["data"]["id"] == ticket["id"]
            assert delay < 2.0, f"event took {delay:.2f}s to cross processes"
            # Long-poll on server two sees the same stream.
            polled = httpx.get(f"{two.url}/api/v1/events?since={since}&timeout=0", headers=headers).json()
            assert "ticket.called" in [e["type"] for e in polled["events"]]
        finally:
            one.stop()
            two.stop()
