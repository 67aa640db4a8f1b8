"""The event stream's security (docs/security.md, "Event stream"): no long-lived token in a URL, one-time connect
tickets, open streams closed when their sign-in ends, and per-process limits. SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.conftest import Api
from tests.support.seed import PASSWORD, Seeded
from tests.support.server import LiveServer
from wins import clock
from wins.app import create_app
from wins.config import Settings
from wins.db import Database
from wins.devices.models import Device

WS = "/api/v1/events/ws"


# -- helpers ---------------------------------------------------------------------------------------------


def _server(settings: Settings, tmp_path: Path, name: str = "server", **env: str) -> LiveServer:
    base = {
        "WINS_DATABASE_URL": settings.database_url,
        "WINS_SECRET_KEY": settings.secret_key,
        "WINS_DATA_DIR": str(settings.data_dir),
        "WINS_EVENT_POLL_SECONDS": "0.5",
        # Far longer than any deadline below: only the internal event can close a stream in time.
        "WINS_STREAM_RECHECK_SECONDS": "300",
    }
    return LiveServer({**base, **env}, log_path=tmp_path / f"{name}.log")


@pytest.fixture
def server(settings: Settings, seeded: Seeded, tmp_path: Path) -> Iterator[LiveServer]:  # noqa: ARG001
    live = _server(settings, tmp_path).start()
    try:
        yield live
    finally:
        live.stop(kill=True)


def _bearer(data: Seeded, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {data.tokens[who]}"}


_stacks: list[contextlib.ExitStack] = []


@pytest.fixture(autouse=True)
def _close_sockets() -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        _stacks.append(stack)
        yield
        _stacks.remove(stack)


def _open(server: LiveServer, headers: dict[str, str] | None = None, query: str = "") -> ClientConnection:
    """A WebSocket to the live server (closed after the test), past its hello."""
    url = server.url.replace("http://", "ws://") + WS + query
    ws: ClientConnection = _stacks[-1].enter_context(connect(url, additional_headers=headers, open_timeout=10))
    assert json.loads(ws.recv(timeout=5))["type"] == "hello"
    return ws


def _closed_code(ws: ClientConnection, within: float) -> tuple[int, str, float]:
    """Read until the server closes the socket; its close code and reason, and how long it took."""
    started = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:  # noqa: PT012  (reading frames until the close)
        while True:
            frame = json.loads(ws.recv(timeout=max(0.01, within - (time.monotonic() - started))))
            assert not frame.get("type", "").startswith("auth."), frame  # internal events are never sent
    assert closed.value.rcvd is not None, "the socket timed out or dropped instead of being closed"
    return closed.value.rcvd.code, closed.value.rcvd.reason, time.monotonic() - started


def _id_of_device(http: httpx.Client, data: Seeded, name: str) -> int:
    devices = http.get("/api/v1/devices", headers=_bearer(data, "admin")).json()
    return int(next(d["id"] for d in devices if d["name"] == name))


def _web_login(client: httpx.Client, username: str) -> str:
    """Sign in through the login form; the session's CSRF token (as the pages embed it)."""
    form = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf, form.text[:300]
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf.group(1)})
    assert r.status_code == 303, r.text[:300]
    page = client.get("/staff")
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert meta, page.text[:300]
    return meta.group(1)


# -- sign-in ends: the open socket closes at once --------------------------------------------------------


def test_revoking_a_device_closes_its_open_socket(server: LiveServer, seeded: Seeded) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        display = _id_of_device(http, seeded, "display")
        watcher = _open(server, _bearer(seeded, "manager"))  # another subscriber, not concerned
        ws = _open(server, _bearer(seeded, "display"))
        assert http.post(f"/api/v1/devices/{display}/revoke", headers=_bearer(seeded, "admin")).status_code == 200
        code, reason, took = _closed_code(ws, within=5)
        assert code == 4401 and "revoked" in reason.lower()
        assert took < 3
        # The other subscriber stays open and never sees the internal event.
        body = {"service_id": seeded.services["A"]}
        ticket = http.post("/api/v1/tickets", json=body, headers=_bearer(seeded, "kiosk"))
        frame = json.loads(watcher.recv(timeout=5))
        assert frame["type"] == "ticket.issued" and frame["data"]["id"] == ticket.json()["id"]
        watcher.close()


@pytest.mark.parametrize("change", [{"active": False}, {"password": "a-new-password-42"}])
def test_deactivating_a_user_or_changing_the_password_closes_the_socket(
    server: LiveServer, seeded: Seeded, change: dict[str, Any]
) -> None:
    ws = _open(server, _bearer(seeded, "staff"))
    user = seeded.users["staff"]
    r = httpx.patch(f"{server.url}/api/v1/users/{user}", json=change, headers=_bearer(seeded, "admin"))
    assert r.status_code == 200, r.text
    code, _, took = _closed_code(ws, within=5)
    assert code == 4401 and took < 3
    # And the token it used no longer opens one.
    with pytest.raises(ConnectionClosed) as refused:  # noqa: PT012
        again = _open(server, _bearer(seeded, "staff"))
        again.recv(timeout=5)
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401


def test_signing_out_closes_every_socket_of_that_account(server: LiveServer) -> None:
    """Sign-out ends every sign-in of the account (its `token_version`, docs/security.md), so the streams of the
    same user's other browser close too."""
    with httpx.Client(base_url=server.url, timeout=10) as one, httpx.Client(base_url=server.url, timeout=10) as two:
        csrf_one, csrf_two = _web_login(one, "staff"), _web_login(two, "staff")
        sockets = []
        for client, csrf in ((one, csrf_one), (two, csrf_two)):
            r = client.post("/api/v1/events/tickets", headers={"X-CSRF-Token": csrf})
            assert r.status_code == 201, r.text
            sockets.append(_open(server, query=f"?ticket={r.json()['ticket']}"))
        r = one.post("/logout", data={"csrf_token": csrf_one})
        assert r.status_code == 303
        for socket in sockets:
            code, _, took = _closed_code(socket, within=5)
            assert code == 4401 and took < 3
        assert two.get("/staff", follow_redirects=False).status_code != 200  # the other browser is signed out


def test_a_pending_long_poll_answers_401_when_its_device_is_revoked(server: LiveServer, seeded: Seeded) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        display = _id_of_device(http, seeded, "display")
        result: dict[str, Any] = {}

        def poll() -> None:
            started = time.monotonic()
            r = http.get("/api/v1/events", params={"timeout": 20}, headers=_bearer(seeded, "display"))
            result.update(status=r.status_code, took=time.monotonic() - started, body=r.json())

        waiter = threading.Thread(target=poll)
        waiter.start()
        time.sleep(0.5)  # let the poll start waiting
        assert http.post(f"/api/v1/devices/{display}/revoke", headers=_bearer(seeded, "admin")).status_code == 200
        waiter.join(15)
    assert result["status"] == 401 and result["took"] < 5, result


def test_the_periodic_recheck_closes_a_stream_whose_sign_in_ended_silently(
    settings: Settings, seeded: Seeded, tmp_path: Path
) -> None:
    """A revoke written straight into the database (no internal event) is caught by the re-check interval."""
    live = _server(settings, tmp_path, WINS_STREAM_RECHECK_SECONDS="0.5").start()
    try:
        ws = _open(live, _bearer(seeded, "display"))
        db = Database(settings)
        try:
            with db.session() as session:
                session.execute(update(Device).where(Device.name == "display").values(revoked_at=clock.utcnow()))
        finally:
            db.dispose()
        code, _, took = _closed_code(ws, within=8)
        assert code == 4401 and took < 6  # principal cache (5 s at most) + one period
    finally:
        live.stop(kill=True)


# -- no long-lived token in a URL; one-time connect tickets ----------------------------------------------


@pytest.mark.parametrize("who", ["display", "staff", "kiosk"])
def test_a_token_in_the_url_is_refused_with_a_reason(api: Api, who: str) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        api.client.websocket_connect(f"{WS}?token={api.data.tokens[who]}") as ws,
    ):
        ws.receive_text()
    assert closed.value.code == 4400
    assert "Authorization header" in closed.value.reason and "ticket" in closed.value.reason


def _ticket(api: Api, who: str) -> str:
    r = api.client.post("/api/v1/events/tickets", headers=api.auth(who))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["expires_in"] == 60 and body["ticket"].startswith("wct_")
    return str(body["ticket"])


def test_a_connect_ticket_opens_one_socket_once(api: Api) -> None:
    ticket = _ticket(api, "display")
    with api.client.websocket_connect(f"{WS}?ticket={ticket}") as ws:
        assert ws.receive_json()["type"] == "hello"
        api.issue("A")
        assert ws.receive_json()["type"] == "ticket.issued"
    with pytest.raises(WebSocketDisconnect) as closed, api.client.websocket_connect(f"{WS}?ticket={ticket}") as ws:
        ws.receive_text()
    assert closed.value.code == 4401 and "used or expired" in closed.value.reason


def test_a_connect_ticket_expires(api: Api) -> None:
    ticket = _ticket(api, "staff")
    clock.freeze(clock.utcnow() + timedelta(seconds=61))
    with pytest.raises(WebSocketDisconnect) as closed, api.client.websocket_connect(f"{WS}?ticket={ticket}") as ws:
        ws.receive_text()
    assert closed.value.code == 4401


def test_a_connect_ticket_of_a_user_whose_password_changed_since_is_refused(api: Api) -> None:
    ticket = _ticket(api, "staff")
    r = api.client.patch(
        f"/api/v1/users/{api.data.users['staff']}", json={"password": "changed-password-1"}, headers=api.auth("admin")
    )
    assert r.status_code == 200
    with pytest.raises(WebSocketDisconnect) as closed, api.client.websocket_connect(f"{WS}?ticket={ticket}") as ws:
        ws.receive_text()
    assert closed.value.code == 4401


@pytest.mark.parametrize("who", ["staff", "display"])
def test_a_connect_ticket_is_refused_on_rest(api: Api, who: str) -> None:
    ticket = _ticket(api, who)
    for path in ("/api/v1/queue", "/api/v1/auth/me", "/api/v1/events?timeout=0"):
        assert api.client.get(path, headers={"Authorization": f"Bearer {ticket}"}).status_code == 401, path
    r = api.client.post("/api/v1/events/tickets", headers={"Authorization": f"Bearer {ticket}"})
    assert r.status_code == 401  # nor can it buy itself a successor


def test_a_connect_ticket_works_once_across_server_processes(
    settings: Settings, seeded: Seeded, tmp_path: Path
) -> None:
    one = _server(settings, tmp_path, "one").start()
    two = _server(settings, tmp_path, "two").start()
    try:
        r = httpx.post(f"{one.url}/api/v1/events/tickets", headers=_bearer(seeded, "display"))
        ticket = r.json()["ticket"]
        results: list[int] = []

        def use(live: LiveServer) -> None:
            try:
                ws = _open(live, query=f"?ticket={ticket}")
                results.append(1000)
                ws.close()
            except ConnectionClosed as exc:
                results.append(exc.rcvd.code if exc.rcvd else 0)

        racers = [threading.Thread(target=use, args=(live,)) for live in (one, two, one, two)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(20)
        assert sorted(results) == [1000, 4401, 4401, 4401]
    finally:
        one.stop(kill=True)
        two.stop(kill=True)


# -- limits ----------------------------------------------------------------------------------------------


def test_socket_limits_per_principal_and_in_total(settings: Settings, seeded: Seeded) -> None:
    limited = settings.model_copy(update={"ws_max_per_principal": 2, "ws_max_total": 3})
    with TestClient(create_app(limited)) as client:
        api = Api(client, seeded)

        def refused(who: str) -> WebSocketDisconnect:
            with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect(WS, headers=api.auth(who)) as w:
                w.receive_text()
            return closed.value

        with (
            client.websocket_connect(WS, headers=api.auth("display")) as a,
            client.websocket_connect(WS, headers=api.auth("display")) as b,
        ):
            assert a.receive_json()["type"] == b.receive_json()["type"] == "hello"
            third = refused("display")
            assert third.code == 4429 and "limit" in third.reason
            with client.websocket_connect(WS, headers=api.auth("staff")) as c:
                assert c.receive_json()["type"] == "hello"
                full = refused("kiosk")
                assert full.code == 1013 and "try again" in full.reason
        # Closed sockets give their places back.
        with client.websocket_connect(WS, headers=api.auth("display")) as d:
            assert d.receive_json()["type"] == "hello"


def test_long_poll_limit_per_principal(settings: Settings, seeded: Seeded) -> None:
    limited = settings.model_copy(update={"ws_max_per_principal": 2})
    with TestClient(create_app(limited)) as client:
        api = Api(client, seeded)
        statuses: list[int] = []

        def poll() -> None:
            statuses.append(client.get("/api/v1/events?timeout=3", headers=api.auth("display")).status_code)

        waiting = [threading.Thread(target=poll) for _ in range(2)]
        for thread in waiting:
            thread.start()
        hub = client.app.state.hub  # type: ignore[attr-defined]
        deadline = time.monotonic() + 5
        while hub.waiting < 2:  # both polls are waiting now
            assert time.monotonic() < deadline
            time.sleep(0.01)
        third = client.get("/api/v1/events?timeout=3", headers=api.auth("display"))
        assert third.status_code == 429 and "limit" in third.json()["detail"]
        assert client.get("/api/v1/events?timeout=0", headers=api.auth("kiosk")).status_code == 200
        for thread in waiting:
            thread.join(10)
        assert statuses == [200, 200]


# -- internal events -------------------------------------------------------------------------------------


def test_internal_events_never_reach_long_polls(api: Api) -> None:
    since = api.client.get("/api/v1/queue", headers=api.auth("display")).json()["last_event_id"]
    kiosk = next(d for d in api.client.get("/api/v1/devices", headers=api.auth("admin")).json() if d["kind"] == "kiosk")
    api.client.post(f"/api/v1/devices/{kiosk['id']}/revoke", headers=api.auth("admin"))
    r = api.client.get(f"/api/v1/events?since={since}&timeout=0", headers=api.auth("display")).json()
    assert r["events"] == [] and r["last_id"] > since  # skipped, but the position moves past it
