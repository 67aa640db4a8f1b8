"""gunicorn with the shipped config, 2 uvicorn workers on a fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets
from tests.deploy.conftest import (
    BIN,
    DEPLOY,
    REPO,
    NotifySocket,
    empty_pg_database,
    free_port,
    newman,
    prepare_database,
    server_env,
    stop,
    wait_for_health,
)
from tests.support.handshake import websocket_handshake
from tests.support.rawstream import check_frames
from tests.support.seed import PASSWORD, Seeded

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@dataclass
class Gunicorn:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


def start_gunicorn(
    database_url: str, tmp: Path, *, workers: int, name: str, cpus: str | None = None, **env: str
) -> Gunicorn:
    """gunicorn with the shipped config (`cpus`: only on these CPUs, as `taskset -c` or systemd's CPUAffinity=)."""
    port = free_port()
    log = tmp / f"{name}.log"
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    pinned = ["taskset", "-c", cpus] if cpus else []
    proc = subprocess.Popen(
        [*pinned, str(BIN / "gunicorn"), "--config", str(DEPLOY / "gunicorn.conf.py"), "wins.asgi:app"],
        env=server_env(
            database_url, tmp / "data", WINS_PORT=str(port), WINS_WORKERS=str(workers), HOME=str(home), **env
        ),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )
    return Gunicorn(f"http://127.0.0.1:{port}", proc, log)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gunicorn, Seeded, str, str, Path]]:
    tmp = tmp_path_factory.mktemp("gunicorn")
    with empty_pg_database() as database_url:
        seeded = prepare_database(database_url, tmp / "data")
        notify = NotifySocket(tmp / "notify.sock")
        server = start_gunicorn(database_url, tmp, workers=2, name="a", NOTIFY_SOCKET=str(notify.path))
        try:
            # systemd Type=notify: READY=1 must come from a worker that already serves requests.
            message = notify.receive(timeout=60)
            assert message.startswith("READY=1"), message
            assert httpx.get(server.url + "/health", timeout=5).status_code == 200
            notify.close()
            yield server, seeded, database_url, str(tmp), tmp
        finally:
            stop(server.proc)


def test_two_workers_no_control_socket_in_home(site: tuple[Gunicorn, Seeded, str, str, Path]) -> None:
    server, _, _, _, tmp = site
    workers = [int(p) for p in Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()]
    assert len(workers) == 2
    assert not (tmp / "home" / ".gunicorn").exists()
    log = server.log.read_text()
    assert "Traceback" not in log


def test_more_workers_than_cpus_is_said_at_start(site: tuple[Gunicorn, Seeded, str, str, Path]) -> None:
    """Two workers on one CPU still serve, and the journal says once, at start, which WINS_WORKERS fits
    (the rule `wins doctor` notes too: wins.ops.doctor.too_many_workers)."""
    server, _, database_url, _, tmp = site
    if len(os.sched_getaffinity(0)) >= 2:  # the site's 2 workers fit
        assert "more processes than CPUs" not in server.log.read_text()
    crowded = start_gunicorn(database_url, tmp, workers=2, name="one-cpu", cpus="0")
    try:
        wait_for_health(crowded.url, crowded.proc, timeout=60, log=crowded.log)
    finally:
        stop(crowded.proc)
    said = [line for line in crowded.log.read_text().splitlines() if "more processes than CPUs" in line]
    assert len(said) == 1, said
    assert "2 server processes on 1 CPU(s)" in said[0] and "set WINS_WORKERS=1" in said[0]
    assert "WARNING" in said[0]


def test_event_socket_does_not_negotiate_permessage_deflate(site: tuple[Gunicorn, Seeded, str, str, Path]) -> None:
    """The shipped worker answers a browser's offer of permessage-deflate without it: compressing every event
    for every socket apart cost a quarter of the CPU per delivery (wins.ops.serving)."""
    server, _, _, _, _ = site
    status, headers = websocket_handshake(server.url)
    assert status.startswith("HTTP/1.1 101"), status
    assert headers["upgrade"].lower() == "websocket"
    assert "sec-websocket-extensions" not in headers, headers


def test_smoke_script(site: tuple[Gunicorn, Seeded, str, str, Path]) -> None:
    server, _, _, _, _ = site
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "smoke.sh"), server.url],
        env={"PATH": "/usr/bin:/bin", "WINS_SMOKE_USER": "staff", "WINS_SMOKE_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SMOKE OK" in result.stdout


def test_smoke_script_fails_loudly(site: tuple[Gunicorn, Seeded, str, str, Path]) -> None:
    server, _, _, _, _ = site
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "smoke.sh"), server.url],
        env={"PATH": "/usr/bin:/bin", "WINS_SMOKE_USER": "staff", "WINS_SMOKE_PASSWORD": "wrong-password"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "FAIL: step 4 (sign in)" in result.stderr and "answered 401, expected 200" in result.stderr


def test_newman_collection(site: tuple[Gunicorn, Seeded, str, str, Path]) -> None:
    server, _, _, _, _ = site
    result = newman(server.url)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "│              assertions │" in result.stdout


def test_event_reaches_websocket_subscribers_on_other_workers_and_hosts(
    site: tuple[Gunicorn, Seeded, str, str, Path],
) -> None:
    """Subscribers spread over the workers of master A and on a second master B (another "host" on the same
    PostgreSQL) all get an event issued through A: the hub wakes them through LISTEN/NOTIFY."""
    server, seeded, database_url, _, tmp = site
    other = start_gunicorn(database_url, tmp, workers=1, name="b")
    try:
        wait_for_health(other.url, other.proc, timeout=60, log=other.log)
        token = seeded.tokens["display"]

        async def scenario() -> list[list[dict[str, object]]]:
            urls = [server.url] * 6 + [other.url] * 2
            sockets = [
                await websockets.connect(
                    u.replace("http", "ws") + "/api/v1/events/ws",
                    additional_headers={"Authorization": f"Bearer {token}"},
                    close_timeout=0.5,
                )
                for u in urls
            ]
            try:
                for ws in sockets:
                    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "hello"
                async with httpx.AsyncClient() as client:
                    r = await client.post(
                        server.url + "/api/v1/tickets",
                        json={"service_id": seeded.services["B"]},
                        headers={"Authorization": f"Bearer {seeded.tokens['kiosk']}"},
                    )
                    assert r.status_code == 201, r.text
                    number = r.json()["number"]

                async def until_issued(ws: websockets.ClientConnection) -> list[dict[str, object]]:
                    seen = []
                    while True:
                        event = json.loads(await asyncio.wait_for(ws.recv(), 10))
                        seen.append(event)
                        if event.get("type") == "ticket.issued" and event["data"].get("number") == number:
                            return seen

                return list(await asyncio.gather(*(until_issued(ws) for ws in sockets)))
            finally:
                for ws in sockets:
                    await ws.close()

        received = asyncio.run(scenario())
        assert len(received) == 8
    finally:
        stop(other.proc)


def test_event_frames_are_written_ready_made(site: tuple[Gunicorn, Seeded, str, str, Path]) -> None:
    """The shipped worker is uvicorn's websockets-sansio protocol, which wins.events.frames recognises: each
    event's frame is built once and written as is, byte for byte what the ordinary send would have written."""
    server, seeded, _, _, _ = site
    check_frames(server.url, seeded, ping=False)
