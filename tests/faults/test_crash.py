"""Crash durability: SIGKILL the server while kiosks issue and counters call, restart it, and check that
nothing acknowledged was lost, no number was handed out twice and nothing is stuck half-way."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import Api
from tests.faults.invariants import check_events, check_tickets, load
from tests.support.seed import Seeded
from tests.support.server import LiveServer
from wins.config import Settings
from wins.tickets.models import HELD, TicketStatus

RUN_SECONDS = 1.5


class Load:
    """Kiosk and counter clients hammering the server until it dies; they record what it acknowledged."""

    def __init__(self, url: str, data: Seeded) -> None:
        self.url, self.data = url, data
        self.stop = threading.Event()
        self.issued: dict[int, str] = {}  # ticket id -> number, for every 201
        self.called: dict[int, int] = {}  # ticket id -> counter id, for every call-next 200
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def _kiosk(self, prefix: str) -> None:
        headers = {"Authorization": f"Bearer {self.data.tokens['kiosk']}"}
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self.stop.is_set():
                key = uuid.uuid4().hex
                try:
                    r = client.post(
                        "/api/v1/tickets",
                        json={"service_id": self.data.services[prefix]},
                        headers={**headers, "Idempotency-Key": key},
                    )
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 201:
                    with self.lock:
                        self.issued[r.json()["id"]] = r.json()["number"]

    def _counter(self, counter: str, who: str) -> None:
        headers = {"Authorization": f"Bearer {self.data.tokens[who]}"}
        counter_id = self.data.counters[counter]
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self.stop.is_set():
                try:
                    r = client.post(f"/api/v1/counters/{counter_id}/call-next", headers=headers)
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    with self.lock:
                        self.called[r.json()["id"]] = counter_id
                else:
                    time.sleep(0.01)

    def start(self) -> None:
        workers: list[tuple[Callable[..., None], tuple[str, ...]]] = [
            (self._kiosk, ("A",)),
            (self._kiosk, ("B",)),
            (self._kiosk, ("A",)),
        ]
        workers += [
            (self._counter, ("1", "staff")),
            (self._counter, ("2", "staff2")),
            (self._counter, ("3", "manager")),
        ]
        for target, args in workers:
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            self.threads.append(thread)

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


@pytest.mark.slow  # tens of seconds: scheduled first (tests/conftest.py)
def test_sigkill_loses_nothing_acknowledged(
    live_server: LiveServer, seeded: Seeded, settings: Settings, tmp_path: Path
) -> None:
    rounds = []
    for _ in range(2):
        load_ = Load(live_server.url, seeded)
        load_.start()
        time.sleep(RUN_SECONDS)
        live_server.stop(kill=True)  # SIGKILL mid-flight: no shutdown hook runs
        load_.join()
        rounds.append(load_)
        live_server.start()
    issued = {k: v for r in rounds for k, v in r.issued.items()}
    called = {k: v for r in rounds for k, v in r.called.items()}
    assert len(issued) > 20 and len(called) > 5, (len(issued), len(called))

    tickets, events, sequences = load(settings)
    by_id = {t.id: t for t in tickets}
    lost = [number for ticket_id, number in issued.items() if ticket_id not in by_id]
    assert not lost, f"acknowledged tickets missing after the crash: {lost}"
    assert all(by_id[i].number == n for i, n in issued.items())
    for ticket_id, counter_id in called.items():
        t = by_id[ticket_id]
        # An acknowledged call stuck: the ticket was called there (and maybe finished by the next call).
        assert t.status != TicketStatus.waiting and t.first_called_at is not None, (t.number, t.status)
        assert t.counter_id == counter_id
    check_tickets(tickets, sequences)
    check_events(tickets, events)

    # The restarted server carries on: new numbers continue after the highest one ever handed out.
    api = Api(httpx.Client(base_url=live_server.url), seeded)  # type: ignore[arg-type]
    fresh = api.issue("A")
    highest = max(t.seq for t in tickets if t.issued_service_id == seeded.services["A"])
    assert int(fresh["number"][1:]) == highest + 1
    nxt = api.call_next("1")
    assert nxt is not None and nxt["status"] == "called"
    after, _, sequences = load(settings)
    check_tickets(after, sequences)
    assert sum(1 for t in after if t.status in HELD and t.counter_id == seeded.counters["1"]) == 1
