"""Several hosts (issue 15): two WINS hosts, each a network namespace with its own address running gunicorn with
2 workers, on one PostgreSQL database, behind nginx rendered from the shipped example with both as upstreams.

- A call made on either host, or through nginx, reaches WebSocket screens on both hosts.
- Under a steady issuing load through nginx, host A dies at once (SIGKILL to its whole process group): every
  ticket that got a 2xx answer is in the database, once; nginx sends the requests that follow to host B; the
  screens that were on A reconnect through nginx with `since` and get every event exactly once, in order, as
  the events table has them.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

from tests.deploy.conftest import SECRET, children, server_env
from tests.support.databases import TemplateCache
from tests.support.hosts import Site, can_make_namespaces, site
from tests.support.requirements import require
from tests.support.seed import Seeded, seed
from tests.support.server import free_port
from wins.config import Settings
from wins.events.service import INTERNAL_PREFIX

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def _needs_namespaces() -> None:
    require(can_make_namespaces(), "needs root, `ip netns` and nginx")


@pytest.fixture(scope="module")
def two_hosts(templates: TemplateCache, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Seeded, str]]:
    """(site, seed data, database URL as seen from the root namespace)."""
    tmp = tmp_path_factory.mktemp("two-hosts")
    with templates.database("postgres", tmp) as url:
        data = seed(Settings(database_url=url, data_dir=tmp / "seed", secret_key=SECRET))
        env = server_env(url, tmp / "unused", WINS_EVENT_POLL_SECONDS="1")
        with site(url, env, tmp, hosts=2, workers=2, nginx_port=free_port()) as running:
            yield running, data, url
            logs = "".join(h.log.read_text(errors="replace") for h in running.hosts)
            assert "Traceback" not in logs, logs[-4000:]


class Screen(threading.Thread):
    """A display on the event WebSocket at `base` that reconnects on any drop with `since` = the last event id
    it has, as the display page does. Keeps every event it got, in order."""

    def __init__(self, base: str, token: str, since: int) -> None:
        super().__init__(daemon=True)
        self.url = base.replace("http://", "ws://") + "/api/v1/events/ws"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.last = since
        self.events: list[dict[str, Any]] = []
        self.connects = 0
        self.drops: list[str] = []
        self.connected = threading.Event()
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                with connect(
                    f"{self.url}?since={self.last}", additional_headers=self.headers, open_timeout=5, close_timeout=1
                ) as ws:
                    assert json.loads(ws.recv(timeout=5))["type"] == "hello"
                    self.connects += 1
                    self.connected.set()
                    while not self.halt.is_set():
                        try:
                            event = json.loads(ws.recv(timeout=0.2))
                        except TimeoutError:
                            continue
                        if event["type"] != "ping":
                            self.events.append(event)
                            self.last = event["id"]
            except (ConnectionClosed, InvalidHandshake, OSError) as exc:  # a dead host: try again via nginx
                self.drops.append(repr(exc))
                time.sleep(0.2)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)


def _visible_event_ids(url: str, after: int) -> list[int]:
    """Ids of the events a screen is sent (all but the server's internal ones) after `after`, in order."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id FROM events WHERE id > %s AND type NOT LIKE %s ORDER BY id", (after, INTERNAL_PREFIX + "%")
        ).fetchall()
    return [int(row[0]) for row in rows]


def _last_event_id(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def _screens(bases: list[str], token: str, since: int) -> list[Screen]:
    screens = [Screen(base, token, since) for base in bases]
    for screen in screens:
        screen.start()
    for screen in screens:
        assert screen.connected.wait(15), f"screen on {screen.url} never connected: {screen.drops}"
    return screens


def _wait_for(screens: list[Screen], last_id: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(s.last < last_id for s in screens):
        time.sleep(0.05)


def test_a_call_on_either_host_or_through_nginx_reaches_screens_on_both_hosts(
    two_hosts: tuple[Site, Seeded, str],
) -> None:
    running, data, url = two_hosts
    host_a, host_b = running.hosts
    for host in running.hosts:  # gunicorn master + 2 workers on each host
        deadline = time.monotonic() + 20
        while len(children(host.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(children(host.proc.pid)) == 2, host.log.read_text(errors="replace")[-2000:]
    kiosk = {"Authorization": f"Bearer {data.tokens['kiosk']}"}
    for _ in range(3):
        r = httpx.post(running.nginx_url + "/api/v1/tickets", json={"service_id": data.services["A"]}, headers=kiosk)
        assert r.status_code == 201, r.text
    start = _last_event_id(url)
    screens = _screens([host_a.url, host_b.url, running.nginx_url, running.nginx_url], data.tokens["display"], start)
    try:
        called = []
        # One person at one counter: staff at counter 1 on host A, staff2 at counter 2 on host B, manager at
        # counter 3 through nginx.
        for base, user, counter in (
            (host_a.url, "staff", "1"),
            (host_b.url, "staff2", "2"),
            (running.nginx_url, "manager", "3"),
        ):
            r = httpx.post(
                f"{base}/api/v1/counters/{data.counters[counter]}/call-next",
                headers={"Authorization": f"Bearer {data.tokens[user]}"},
                timeout=10,
            )
            assert r.status_code == 200, r.text
            called.append(r.json()["id"])
        _wait_for(screens, _visible_event_ids(url, start)[-1])
    finally:
        for screen in screens:
            screen.stop()
    for screen in screens:
        seen = [e["data"]["id"] for e in screen.events if e["type"] == "ticket.called"]
        assert seen == called, f"{screen.url}: {seen} != {called}"
        assert screen.connects == 1, screen.drops
    # Every screen saw the same stream, in the same order.
    streams = {tuple(e["id"] for e in s.events) for s in screens}
    assert len(streams) == 1, streams


def test_a_host_killed_mid_load_loses_no_acknowledged_ticket_and_screens_miss_nothing(
    two_hosts: tuple[Site, Seeded, str],
) -> None:
    running, data, url = two_hosts
    host_a, host_b = running.hosts
    start = _last_event_id(url)
    # Through nginx: round-robin puts about half of them on each host.
    screens = _screens([running.nginx_url] * 6, data.tokens["display"], start)
    kiosk = {"Authorization": f"Bearer {data.tokens['kiosk']}"}
    tried: set[str] = set()  # every Idempotency-Key sent (one per customer)
    acked: dict[str, int] = {}  # Idempotency-Key -> ticket id of its 2xx answer
    answers: list[tuple[float, int]] = []  # (time, status; 0 = no answer at all)
    lock = threading.Lock()
    halt = threading.Event()

    def issue() -> None:
        # A kiosk: a fresh Idempotency-Key per customer, the same key again when an answer does not come.
        with httpx.Client(base_url=running.nginx_url, headers=kiosk, timeout=10) as client:
            while not halt.is_set():
                key = uuid.uuid4().hex
                with lock:
                    tried.add(key)
                for _ in range(20):
                    try:
                        r = client.post(
                            "/api/v1/tickets",
                            json={"service_id": data.services["B"]},
                            headers={"Idempotency-Key": key},
                        )
                        status = r.status_code
                    except httpx.HTTPError:
                        status = 0
                    with lock:
                        answers.append((time.monotonic(), status))
                        if 200 <= status < 300:
                            acked[key] = r.json()["id"]
                    if 200 <= status < 300:
                        break
                    time.sleep(0.05)
                time.sleep(0.01)

    issuers = [threading.Thread(target=issue, daemon=True) for _ in range(4)]
    try:
        for thread in issuers:
            thread.start()
        time.sleep(2.5)
        with lock:
            before = len(acked)
        killed_at = time.monotonic()
        host_a.kill()
        time.sleep(3.5)
        halt.set()
        for thread in issuers:
            thread.join(timeout=30)
        expected = _visible_event_ids(url, start)
        _wait_for(screens, expected[-1])
    finally:
        halt.set()
        for screen in screens:
            screen.stop()

    # (b) Nothing acknowledged is lost, nothing is issued twice; B took over.
    assert before > 0 and len(acked) > before, (before, len(acked))
    assert set(acked) == tried, "a customer never got a ticket: nginx kept failing after the kill"
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT idempotency_key, id FROM tickets WHERE idempotency_key = ANY(%s)", (list(acked),)
        ).fetchall()
    in_db: dict[str, list[int]] = {}
    for key, ticket_id in rows:
        in_db.setdefault(key, []).append(ticket_id)
    assert {k: [v] for k, v in acked.items()} == in_db
    after = [status for at, status in answers if at > killed_at + 1.0]
    assert after and all(200 <= s < 300 for s in after), sorted(set(after))
    # nginx itself saw host A refuse and moved on (the shipped failover settings at work).
    nginx_errors = (running.folder / "nginx" / "error.log").read_text(errors="replace")
    assert f"{host_a.netns.address}:" in nginx_errors and "upstream" in nginx_errors, nginx_errors[-2000:]
    failed = [status for at, status in answers if not 200 <= status < 300]
    print(f"{len(acked)} tickets acknowledged, {before} before the kill; {len(failed)} answers not 2xx: {failed}")

    # (c) Every screen has every event of the log exactly once, in order; those on A came back through nginx.
    assert len(expected) >= len(acked), "an acknowledged ticket has no event"
    moved = [s for s in screens if s.connects > 1]
    assert moved, "no screen was on the killed host"
    assert len(moved) < len(screens), "every screen was on the killed host"
    for screen in screens:
        assert [e["id"] for e in screen.events] == expected, (screen.connects, screen.drops)
    assert host_b.proc.poll() is None
    assert httpx.get(running.nginx_url + "/health", timeout=5).status_code == 200
