"""Each event's WebSocket frame built once and written to every screen's socket (wins.events.frames): taken under
the server we ship, byte for byte what the ordinary path sends, in order with hello and pings; the ordinary
send elsewhere; and a screen that stops reading holds a bounded buffer without holding up the others."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
import websockets
from prometheus_client import REGISTRY
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from tests.conftest import Api
from tests.support.rawstream import RawStream, check_frames
from tests.support.seed import Seeded
from tests.support.server import free_port
from wins.app import create_app
from wins.config import Settings
from wins.events.service import record_event
from wins.ops.serving import WEBSOCKET_OPTIONS


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the frames do not depend on the database


@pytest.fixture
def wins_serve(settings: Settings, seeded: Seeded, tmp_path: Path) -> Iterator[str]:  # noqa: ARG001
    """`wins serve`, as an operator starts it."""
    port = free_port()
    env = {
        **os.environ,
        "WINS_DATABASE_URL": settings.database_url,
        "WINS_SECRET_KEY": settings.secret_key,
        "WINS_DATA_DIR": str(settings.data_dir),
        "WINS_LOG_LEVEL": "WARNING",
        "WINS_STREAM_HEARTBEAT_SECONDS": "1",
    }
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "wins.cli", "serve", "--port", str(port), "--no-demo"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)  # polling a starting process: there is no event to await
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "Traceback" not in log.read_text()


def test_wins_serve_writes_ready_frames(wins_serve: str, seeded: Seeded) -> None:
    check_frames(wins_serve, seeded)


def test_other_servers_get_the_ordinary_send(api: Api) -> None:
    """Starlette's TestClient is not uvicorn: the stream still works, through the ASGI send."""
    before = REGISTRY.get_sample_value("wins_event_streams_total", {"writer": "asgi"}) or 0
    with api.client.websocket_connect("/api/v1/events/ws", headers=api.auth("display")) as ws:
        assert ws.receive_json()["type"] == "hello"
        api.issue("A")
        assert ws.receive_json()["type"] == "ticket.issued"
    assert REGISTRY.get_sample_value("wins_event_streams_total", {"writer": "asgi"}) == before + 1


def test_a_protocol_not_as_expected_turns_the_direct_way_off(caplog: pytest.LogCaptureFixture) -> None:
    """A later uvicorn/websockets that renames what the direct way reads: the ordinary send, said once, no error."""
    from types import SimpleNamespace

    from wins.events.frames import _as_recognised

    transport = SimpleNamespace(write=print, is_closing=lambda: False)
    conn = SimpleNamespace(state=1, writes=[], extensions=[])
    writable = asyncio.Event()
    fine = SimpleNamespace(conn=conn, writable=writable, close_sent=False, disconnected=False, transport=transport)
    assert _as_recognised(fine)
    assert not _as_recognised(
        SimpleNamespace(**{**vars(fine), "conn": SimpleNamespace(**{**vars(conn), "extensions": ["deflate"]})})
    )
    renamed = SimpleNamespace(**{k: v for k, v in vars(fine).items() if k != "close_sent"})
    assert not _as_recognised(renamed)
    assert "not as expected" in caplog.text


async def test_a_screen_that_stops_reading_holds_a_bounded_buffer_and_no_one_else(
    settings: Settings, seeded: Seeded
) -> None:
    """uvicorn in this process (so its connections can be looked at) with the shipped WebSocket options."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=free_port(),
        log_level="warning",
        timeout_graceful_shutdown=3,  # the stalled screen's stream never ends by itself
        **WEBSOCKET_OPTIONS,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)  # uvicorn offers no event for "listening"
    base = f"http://127.0.0.1:{config.port}"
    token = seeded.tokens["display"]
    stalled: RawStream | None = None
    try:
        # The stalled screen: a small receive window, reads its hello, then nothing.
        stalled = await asyncio.to_thread(RawStream, base, token, receive_buffer=4096)
        assert (await asyncio.to_thread(stalled.message))["type"] == "hello"
        (protocol,) = [
            p
            for p in server.server_state.connections
            if isinstance(p, WebSocketsSansIOProtocol) and p.client == stalled.sock.getsockname()
        ]
        # A small kernel send buffer on the server's side too, so uvicorn pauses the socket after a few events
        # rather than after the megabytes loopback buffers by default.
        protocol.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        uri = base.replace("http", "ws") + "/api/v1/events/ws"
        async with websockets.connect(
            uri, additional_headers={"Authorization": f"Bearer {token}"}, compression=None, max_size=None
        ) as reader:
            assert '"hello"' in str(await reader.recv())
            blob = "x" * 50_000
            written = 0

            async def write_and_hear(count: int) -> None:
                """`count` more events of 50 KB; returns once the reading screen has heard them all."""
                nonlocal written

                def write() -> None:
                    for i in range(written, written + count):
                        with app.state.db.session() as session:
                            record_event(session, "test.blob", {"i": i, "blob": blob}, branch_id=None)

                await asyncio.to_thread(write)
                written += count
                while True:
                    message = await asyncio.wait_for(reader.recv(), timeout=60)
                    if f'"i":{written - 1},' in str(message):
                        return

            # Until the stalled socket's buffers are full and uvicorn pauses it.
            while protocol.writable.is_set():
                assert written < 100, "the stalled screen was never paused"
                await write_and_hear(2)
            # Paused: 500 KB more, and the other screen still hears every event (write_and_hear returns) while the
            # stalled one's stream waits with no more than uvicorn's high-water mark and one frame buffered.
            await write_and_hear(10)
            assert not protocol.writable.is_set()
            high = protocol.transport.get_write_buffer_limits()[1]
            assert protocol.transport.get_write_buffer_size() <= high + 51_000
    finally:
        if stalled is not None:
            stalled.close()
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=30)
