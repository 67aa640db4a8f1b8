"""Arrival check-in under concurrent call-next, over real HTTP on SQLite and PostgreSQL: four counters calling at
once never call a ticket twice, call every ticket that may be called (checked in or on site), leave the unchecked
remote tickets waiting in their place, and mark each of them passed over exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from tests.support.seed import Seeded
from tests.support.server import LiveServer
from wins.config import Settings
from wins.events.models import Event
from wins.join import service as join
from wins.tickets.models import Ticket

REMOTE = 6
KIOSK = 30


@pytest.fixture
def live_server(settings: Settings, seeded: Seeded, tmp_path: Path) -> Iterator[LiveServer]:
    env = {
        "WINS_DATABASE_URL": settings.database_url,
        "WINS_SECRET_KEY": settings.secret_key,
        "WINS_DATA_DIR": str(settings.data_dir),
        "WINS_JOIN_PER_CLIENT_PER_HOUR": "50",
    }
    with LiveServer(env, log_path=tmp_path / "server.log") as server:
        yield server


def _client(server: LiveServer, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def test_four_counters_at_once_pass_over_unchecked_tickets_once_and_call_the_rest_once(
    live_server: LiveServer, seeded: Seeded, settings: Settings
) -> None:
    s = seeded.services
    with _client(live_server, seeded.tokens["manager"]) as manager:
        body = {"notify_ahead": 3, "remote_daily_cap": None, "arrival_checkin": True, "checkin_grace_minutes": 30}
        assert manager.put(f"/api/v1/services/{s['A']}/remote", json=body).status_code == 200
    tokens: list[str] = []
    with _client(live_server) as phone:
        for _ in range(REMOTE):  # first in line, from phones
            r = phone.post(f"/join/{s['A']}", data={"k": ""}, follow_redirects=False)
            assert r.status_code == 303, r.text
            tokens.append(r.headers["location"].removeprefix("/t/"))
        code = join.short_code(settings.effective_secret_key, 1, minutes=settings.join_key_minutes)
        for token in tokens[::2]:  # half of them are here
            r = phone.post(f"/api/v1/public/tickets/{token}/check-in", json={"code": code})
            assert r.status_code == 200 and r.json()["arrival"] == "checked_in", r.text
    with _client(live_server, seeded.tokens["kiosk"]) as kiosk:
        for i in range(KIOSK):
            assert kiosk.post("/api/v1/tickets", json={"service_id": s["ABC"[i % 3]]}).status_code == 201
    people = ["staff", "staff2", "manager", "admin"]  # one person per counter
    start = threading.Barrier(len(people))

    def work(job: tuple[str, str]) -> list[str]:
        counter, who = job
        got: list[str] = []
        with _client(live_server, seeded.tokens[who]) as staff:
            start.wait()
            while True:
                r = staff.post(f"/api/v1/counters/{seeded.counters[counter]}/call-next")
                if r.status_code == 204:
                    return got
                assert r.status_code == 200, r.text
                got.append(r.json()["number"])

    with ThreadPoolExecutor(len(people)) as pool:
        results = list(pool.map(work, zip(["1", "2", "3", "4"], people, strict=True)))
    called = [number for got in results for number in got]
    assert [n for n, times in Counter(called).items() if times > 1] == []
    assert len(called) == KIOSK + REMOTE // 2

    engine = create_engine(settings.database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            unchecked = conn.execute(
                select(Ticket.id, Ticket.status, Ticket.passed_over_at).where(Ticket.tracking_token.in_(tokens[1::2]))
            ).all()
            passed = conn.scalars(select(Event.data).where(Event.type == "ticket.passed_over")).all()
    finally:
        engine.dispose()
    assert [(status, at is not None) for _, status, at in unchecked] == [("waiting", True)] * (REMOTE // 2)
    # each unchecked ticket was passed over once, however many counters reached it at once
    assert sorted(d["id"] for d in passed) == sorted(tid for tid, _, _ in unchecked)
