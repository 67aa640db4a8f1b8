"""uWSGI with the shipped ini (a2wsgi): the REST API works, WebSockets do not, the long-poll stream does."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.deploy.conftest import BIN, DEPLOY, free_port, newman, prepare_database, server_env, stop, wait_for_health
from tests.support.seed import Seeded

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def uwsgi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    tmp = tmp_path_factory.mktemp("uwsgi")
    database_url = f"sqlite:///{tmp / 'wins.db'}"
    seeded = prepare_database(database_url, tmp / "data")
    port = free_port()
    log = tmp / "uwsgi.log"
    proc = subprocess.Popen(
        [str(BIN / "uwsgi"), "--ini", str(DEPLOY / "uwsgi.ini")],
        env=server_env(
            database_url,
            tmp / "data",
            WINS_UWSGI_BIND=f"127.0.0.1:{port}",
            WINS_WORKERS="1",
            # The sizing test parks 100 screens on one display token; a site has a token per screen.
            WINS_WS_MAX_PER_PRINCIPAL="200",
        ),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, proc, timeout=60, log=log)
        yield url, seeded
    finally:
        stop(proc, timeout=30)
    assert "Traceback" not in log.read_text(), log.read_text()[-4000:]


def test_newman_collection_under_uwsgi(uwsgi: tuple[str, Seeded]) -> None:
    url, _ = uwsgi
    result = newman(url)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_long_poll_wakes_on_a_new_ticket(uwsgi: tuple[str, Seeded]) -> None:
    """The event hub runs under a2wsgi (lifespan started by wins.ops.wsgi): a waiting long-poll answers as
    soon as a ticket is issued, not at its timeout."""
    url, seeded = uwsgi
    staff = {"Authorization": f"Bearer {seeded.tokens['staff']}"}
    start = httpx.get(url + "/api/v1/events", params={"timeout": 0}, headers=staff, timeout=10).json()["last_id"]
    answer: dict[str, object] = {}

    def poll() -> None:
        began = time.monotonic()
        r = httpx.get(url + "/api/v1/events", params={"since": start, "timeout": 30}, headers=staff, timeout=40)
        answer.update(status=r.status_code, body=r.json(), seconds=time.monotonic() - began)

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(1.0)  # the long-poll is parked in the server
    assert "status" not in answer
    r = httpx.post(
        url + "/api/v1/tickets",
        json={"service_id": seeded.services["A"]},
        headers={"Authorization": f"Bearer {seeded.tokens['kiosk']}"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    waiter.join(timeout=35)
    assert answer["status"] == 200
    body = answer["body"]
    assert isinstance(body, dict)
    assert [e["type"] for e in body["events"]] == ["ticket.issued"]
    assert body["events"][0]["data"]["number"] == r.json()["number"]
    assert float(answer["seconds"]) < 5  # type: ignore[arg-type]


def test_websocket_gets_a_clear_answer_pointing_to_long_poll(uwsgi: tuple[str, Seeded]) -> None:
    """Under uWSGI there is no WebSocket: the handshake gets a 501 that names the long-poll, not a bare 404."""
    url, seeded = uwsgi
    r = httpx.get(
        url + "/api/v1/events/ws",
        timeout=10,
        headers={
            "Authorization": f"Bearer {seeded.tokens['display']}",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert r.status_code == 501, (r.status_code, r.text)
    body = r.json()
    assert body["code"] == "websocket_unavailable"
    assert "long-poll" in body["detail"] and "/api/v1/events?since=" in body["detail"]


def test_a_hundred_waiting_screens_leave_health_quick(uwsgi: tuple[str, Seeded]) -> None:
    """docs/deployment.md sizing: one process of the shipped ini holds 100 waiting long-polls (screens) and
    still answers other requests at once (with 32 threads, 32 long-polls held /health for 12.8 s)."""
    url, seeded = uwsgi
    display = {"Authorization": f"Bearer {seeded.tokens['display']}"}
    start = httpx.get(url + "/api/v1/events", params={"timeout": 0}, headers=display, timeout=10).json()["last_id"]
    answers: list[int] = []
    # One pooled client for all screens: a client per thread spends seconds of the test's own CPU on setup.
    screens_client = httpx.Client(limits=httpx.Limits(max_connections=200), headers=display, timeout=40)

    def screen() -> None:
        r = screens_client.get(url + "/api/v1/events", params={"since": start, "timeout": 25})
        answers.append(r.status_code)

    screens = [threading.Thread(target=screen) for _ in range(100)]
    for t in screens:
        t.start()
    slowest = 0.0
    deadline = time.monotonic() + 4
    with httpx.Client(timeout=30) as monitor:
        while time.monotonic() < deadline:  # the screens connect during this window; none may stall the others
            began = time.monotonic()
            assert monitor.get(url + "/health").status_code == 200
            slowest = max(slowest, time.monotonic() - began)
            time.sleep(0.05)
    assert not answers, "the long-polls should still be waiting"
    print(f"slowest /health with 100 waiting screens: {slowest * 1000:.0f} ms")
    # Starved of threads it waits for a long-poll to end (up to 25 s); a loaded test box needs some slack.
    assert slowest < 2.0
    r = httpx.post(  # wakes every screen at once
        url + "/api/v1/tickets",
        json={"service_id": seeded.services["A"]},
        headers={"Authorization": f"Bearer {seeded.tokens['kiosk']}"},
        timeout=10,
    )
    assert r.status_code == 201
    for t in screens:
        t.join(timeout=30)
    screens_client.close()
    assert answers == [200] * 100
