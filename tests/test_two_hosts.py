"""Several hosts (issue 15): two WINS hosts, each a network namespace with its own address running gunicorn with
2 workers, on one PostgreSQL database, behind nginx rendered from the shipped example with both as upstreams.

- A call made on either host, or through nginx, reaches WebSocket screens on both hosts.
- Under a steady issuing load through nginx, host B goes dark (its network link drops every packet, as with a
  power cut: nothing is refused or reset): nginx moves requests to A within its documented timeouts, every
  acknowledged ticket is in the database once, and the screens on B notice the missing heartbeats and
  reconnect to A with `since`, missing nothing. B is plugged back in and nginx uses it again.
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
from tests.support.hosts import Site, can_go_dark, can_make_namespaces, site
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
        # Pings every 2 s: a screen's watchdog takes a host that went dark as dead after 4.5 s, not 45 s.
        env = server_env(url, tmp / "unused", WINS_EVENT_POLL_SECONDS="1", WINS_STREAM_HEARTBEAT_SECONDS="2")
        with site(url, env, tmp, hosts=2, workers=2, nginx_port=free_port()) as running:
            yield running, data, url
            logs = "".join(h.log.read_text(errors="replace") for h in running.hosts)
            assert "Traceback" not in logs, logs[-4000:]


class Silent(Exception):
    """No message, not even a ping, for 2.25 heartbeats: the link is dead though nothing closed it."""


class Screen(threading.Thread):
    """A display on the event WebSocket at `base` that reconnects on any drop with `since` = the last event id
    it has, as the display page does (web/static/stream.js), watchdog included: a socket silent for 2.25 times
    the heartbeat its hello gives is taken as dead. Each reconnect goes to the next of `base` and `elsewhere`
    (a screen pointed at one host directly, with the other as its fallback). Keeps every event it got, in order."""

    def __init__(self, base: str, token: str, since: int, *, elsewhere: tuple[str, ...] = ()) -> None:
        super().__init__(daemon=True)
        self.urls = [b.replace("http://", "ws://") + "/api/v1/events/ws" for b in (base, *elsewhere)]
        self.url = self.urls[0]  # where it is (or was last) connected
        self.headers = {"Authorization": f"Bearer {token}"}
        self.last = since
        self.events: list[dict[str, Any]] = []
        self.connects = 0
        self.drops: list[str] = []
        self.connected = threading.Event()
        self.halt = threading.Event()

    def run(self) -> None:
        attempt = 0
        while not self.halt.is_set():
            self.url = self.urls[attempt % len(self.urls)]
            attempt += 1
            try:
                with connect(
                    f"{self.url}?since={self.last}", additional_headers=self.headers, open_timeout=5, close_timeout=1
                ) as ws:
                    hello = json.loads(ws.recv(timeout=5))
                    assert hello["type"] == "hello"
                    silence = 2.25 * float(hello["heartbeat"])
                    self.connects += 1
                    self.connected.set()
                    heard = time.monotonic()
                    while not self.halt.is_set():
                        try:
                            event = json.loads(ws.recv(timeout=0.2))
                        except TimeoutError:
                            if time.monotonic() - heard > silence:
                                raise Silent(self.url) from None
                            continue
                        heard = time.monotonic()
                        if event["type"] != "ping":
                            self.events.append(event)
                            self.last = event["id"]
            except (ConnectionClosed, InvalidHandshake, OSError, Silent) as exc:  # a dead host: try again
                self.drops.append(repr(exc))
                time.sleep(0.2)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)


class Kiosks:
    """Kiosks issuing through `base` (nginx): a fresh Idempotency-Key per customer, the same key again when an
    answer does not come within `timeout` or is not a 2xx, as wins_kiosk does."""

    def __init__(self, base: str, token: str, service_id: int, *, timeout: float, count: int = 4) -> None:
        self.base, self.service_id, self.timeout = base, service_id, timeout
        self.headers = {"Authorization": f"Bearer {token}"}
        self.tried: set[str] = set()  # every Idempotency-Key sent (one per customer)
        self.acked: dict[str, int] = {}  # Idempotency-Key -> ticket id of its 2xx answer
        self.answers: list[tuple[float, int]] = []  # (time, status; 0 = no answer at all)
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.threads = [threading.Thread(target=self._issue, daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def _issue(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=self.timeout) as client:
            while not self.halt.is_set():
                key = uuid.uuid4().hex
                with self.lock:
                    self.tried.add(key)
                for _ in range(20):
                    try:
                        r = client.post(
                            "/api/v1/tickets", json={"service_id": self.service_id}, headers={"Idempotency-Key": key}
                        )
                        status = r.status_code
                    except httpx.HTTPError:
                        status = 0
                    with self.lock:
                        self.answers.append((time.monotonic(), status))
                        if 200 <= status < 300:
                            self.acked[key] = r.json()["id"]
                    if 200 <= status < 300:
                        break
                    time.sleep(0.05)
                time.sleep(0.01)

    def stop(self) -> None:
        self.halt.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def issued_once(self, url: str) -> None:
        """Every customer got a ticket, and every acknowledged ticket is in the database exactly once."""
        assert self.tried and set(self.acked) == self.tried, "a customer never got a ticket: nginx kept failing"
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT idempotency_key, id FROM tickets WHERE idempotency_key = ANY(%s)", (list(self.acked),)
            ).fetchall()
        in_db: dict[str, list[int]] = {}
        for key, ticket_id in rows:
            in_db.setdefault(key, []).append(ticket_id)
        assert {k: [v] for k, v in self.acked.items()} == in_db


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


# The shipped settings (deploy/nginx/wins.conf) and the kiosk's own (wins_kiosk.client): a request sent to a host
# that went dark waits for the kiosk's timeout, then goes again with its Idempotency-Key; nginx sends nothing to
# the dark host on a kept-alive connection idle longer than UPSTREAM_KEEPALIVE, and a new connection to it fails
# over within proxy_connect_timeout (3 s), less than the kiosk's timeout.
KIOSK_TIMEOUT = 5.0
UPSTREAM_KEEPALIVE = 5.0


def _served_by(running: Site, after: int) -> list[str]:
    """The `$upstream_addr` of every request nginx logged after the first `after` lines (the shipped format)."""
    lines = (running.folder / "nginx" / "wins.access.log").read_text(errors="replace").splitlines()[after:]
    return [line.rsplit(' "', 1)[1].rstrip('"') for line in lines if line.endswith('"')]


def test_a_host_that_goes_dark_is_passed_by_and_its_screens_move_missing_nothing(
    two_hosts: tuple[Site, Seeded, str],
) -> None:
    """Host B loses its network (power cut, pulled cable: no RST, no FIN; open connections just hang) while
    kiosks issue through nginx and screens are on B, directly and through nginx. nginx moves the requests to A
    within its documented timeouts; every acknowledged ticket is in the database once (a ticket B issued but
    could not answer is given again by A for its Idempotency-Key); the screens on B hear no heartbeat, take the
    link as dead and reconnect to A with `since`, missing nothing. Plugged back in, B gets requests again."""
    require(can_go_dark(), "needs `tc` (iproute2)")
    running, data, url = two_hosts
    host_a, host_b = running.hosts
    logged = len(_served_by(running, 0))
    start = _last_event_id(url)
    on_b = [Screen(host_b.url, data.tokens["display"], start, elsewhere=(host_a.url,)) for _ in range(2)]
    via_nginx = [Screen(running.nginx_url, data.tokens["display"], start) for _ in range(4)]
    screens = on_b + via_nginx
    for screen in screens:
        screen.start()
    try:
        for screen in screens:
            assert screen.connected.wait(15), f"screen on {screen.url} never connected: {screen.drops}"
        kiosks = Kiosks(running.nginx_url, data.tokens["kiosk"], data.services["C"], timeout=KIOSK_TIMEOUT)
        try:
            time.sleep(2)
            with kiosks.lock:
                before = len(kiosks.acked)
            dark_at = time.monotonic()
            host_b.netns.go_dark()
            try:
                time.sleep(UPSTREAM_KEEPALIVE + KIOSK_TIMEOUT + 3)
            finally:
                kiosks.stop()
            expected = _visible_event_ids(url, start)
            _wait_for(screens, expected[-1])
        finally:
            host_b.netns.come_back()
    finally:
        for screen in screens:
            screen.stop()

    # Nothing acknowledged is lost or doubled; past the documented bound every answer is a 2xx.
    assert before > 0 and len(kiosks.acked) > before, (before, len(kiosks.acked))
    kiosks.issued_once(url)
    bound = dark_at + UPSTREAM_KEEPALIVE + KIOSK_TIMEOUT + 1
    after = [status for at, status in kiosks.answers if at > bound]
    assert after and all(200 <= s < 300 for s in after), sorted(set(after))
    # nginx itself found B dark (connect timeout) and moved a request on to A: "B:8000, A:8000" in its log.
    b, a = f"{host_b.netns.address}:8000", f"{host_a.netns.address}:8000"
    assert f"{b}, {a}" in _served_by(running, logged), (running.folder / "nginx" / "error.log").read_text()[-2000:]
    failed = [status for _, status in kiosks.answers if not 200 <= status < 300]
    print(f"{len(kiosks.acked)} tickets acknowledged, {before} before B went dark; {len(failed)} not 2xx: {failed}")

    # The screens on B noticed the silence and came back through A; every screen has every event once, in order.
    assert len(expected) >= len(kiosks.acked), "an acknowledged ticket has no event"
    for screen in on_b:
        assert any(drop.startswith("Silent(") for drop in screen.drops), screen.drops
        assert screen.url.startswith(host_a.url.replace("http://", "ws://")), screen.url
    for screen in screens:
        assert [e["id"] for e in screen.events] == expected, (screen.url, screen.connects, screen.drops)

    # Back on the network: nginx tries B again after fail_timeout (10 s) and B answers.
    seen = len(_served_by(running, 0))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and b not in _served_by(running, seen):
        assert httpx.get(running.nginx_url + "/health", timeout=KIOSK_TIMEOUT).status_code == 200
        time.sleep(0.2)
    assert b in _served_by(running, seen), "nginx never went back to host B"


def test_a_host_killed_mid_load_loses_no_acknowledged_ticket_and_screens_miss_nothing(
    two_hosts: tuple[Site, Seeded, str],
) -> None:
    running, data, url = two_hosts
    host_a, host_b = running.hosts
    start = _last_event_id(url)
    # Through nginx: round-robin puts about half of them on each host.
    screens = _screens([running.nginx_url] * 6, data.tokens["display"], start)
    try:
        kiosks = Kiosks(running.nginx_url, data.tokens["kiosk"], data.services["B"], timeout=10)
        try:
            time.sleep(2.5)
            with kiosks.lock:
                before = len(kiosks.acked)
            killed_at = time.monotonic()
            host_a.kill()
            time.sleep(3.5)
        finally:
            kiosks.stop()
        expected = _visible_event_ids(url, start)
        _wait_for(screens, expected[-1])
    finally:
        for screen in screens:
            screen.stop()

    # (b) Nothing acknowledged is lost, nothing is issued twice; B took over.
    assert before > 0 and len(kiosks.acked) > before, (before, len(kiosks.acked))
    kiosks.issued_once(url)
    after = [status for at, status in kiosks.answers if at > killed_at + 1.0]
    assert after and all(200 <= s < 300 for s in after), sorted(set(after))
    # nginx itself saw host A refuse and moved on (the shipped failover settings at work).
    nginx_errors = (running.folder / "nginx" / "error.log").read_text(errors="replace")
    assert f"{host_a.netns.address}:" in nginx_errors and "upstream" in nginx_errors, nginx_errors[-2000:]
    failed = [status for at, status in kiosks.answers if not 200 <= status < 300]
    print(f"{len(kiosks.acked)} tickets acknowledged, {before} before the kill; {len(failed)} not 2xx: {failed}")

    # (c) Every screen has every event of the log exactly once, in order; those on A came back through nginx.
    assert len(expected) >= len(kiosks.acked), "an acknowledged ticket has no event"
    moved = [s for s in screens if s.connects > 1]
    assert moved, "no screen was on the killed host"
    assert len(moved) < len(screens), "every screen was on the killed host"
    for screen in screens:
        assert [e["id"] for e in screen.events] == expected, (screen.connects, screen.drops)
    assert host_b.proc.poll() is None
    assert httpx.get(running.nginx_url + "/health", timeout=5).status_code == 200
