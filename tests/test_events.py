"""The event stream: WebSocket and long-poll, replay with `since`, only committed events, and on PostgreSQL
delivery across server processes through LISTEN/NOTIFY."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import Api
from tests.support.databases import TemplateCache
from tests.support.seed import seed
from tests.support.server import LiveServer
from wins.config import Settings


def _last_id(api: Api) -> int:
    return int(api.client.get("/api/v1/queue", headers=api.auth("display")).json()["last_event_id"])


def test_websocket_receives_a_call(api: Api) -> None:
    t = api.issue("A")
    since = _last_id(api)
    with api.client.websocket_connect(f"/api/v1/events/ws?since={since}&token={api.data.tokens['display']}") as ws:
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
    result: dict = {}

    def poll() -> None:
        r = api.client.get(f"/api/v1/events?since={since}&timeout=10", headers=api.auth("display"))
        result.update(r.json())

    waiter = threading.Thread(target=poll)
    started = time.monotonic()
    waiter.start()
    time.sleep(0.3)
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
    with api.client.websocket_connect(f"/api/v1/events/ws?since={ids[1]}&token={api.data.tokens['display']}") as ws:
        assert ws.receive_json()["type"] == "hello"
        assert [ws.receive_json()["id"] for _ in after] == after


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
    from wins.events.service import last_event_id, record_event

    db = Database(settings)
    with db.session(write=False) as session:
        before = last_event_id(session)

    def crash_before_commit() -> None:
        with db.session() as session:
            record_event(session, "ticket.called", {"number": "Z999"}, branch_id=None)
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        crash_before_commit()
    with db.session(write=False) as session:
        assert last_event_id(session) == before
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
