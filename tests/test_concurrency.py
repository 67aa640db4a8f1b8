"""Concurrency over real HTTP against a running server, on SQLite and PostgreSQL: no ticket is called twice,
no number is handed out twice, one idempotency key makes one ticket."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.seed import Seeded
from tests.support.server import LiveServer

COUNTERS = 12
TICKETS = 90


def _client(server: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_concurrent_call_next_hands_out_each_ticket_once(live_server: LiveServer, seeded: Seeded) -> None:
    s = seeded.services
    with _client(live_server, seeded.tokens["manager"]) as manager:
        counters = [
            manager.post("/api/v1/counters", json={"name": f"c{i}", "service_ids": [s["A"], s["B"], s["C"]]}).json()[
                "id"
            ]
            for i in range(COUNTERS)
        ]
    # One person per counter, as at a real site (call-next seats the caller at its counter).
    tokens = []
    with _client(live_server, seeded.tokens["admin"]) as admin:
        for i in range(COUNTERS):
            r = admin.post("/api/v1/users", json={"username": f"desk{i}", "password": "desk-password-1"})
            assert r.status_code == 201, r.text
            login = httpx.post(
                f"{live_server.url}/api/v1/auth/token", data={"username": f"desk{i}", "password": "desk-password-1"}
            )
            tokens.append(login.json()["access_token"])
    with _client(live_server, seeded.tokens["kiosk"]) as kiosk:
        issued = [
            kiosk.post("/api/v1/tickets", json={"service_id": s["ABC"[i % 3]]}).json()["id"] for i in range(TICKETS)
        ]
    start = threading.Barrier(COUNTERS)

    def work(job: tuple[int, str]) -> list[int]:
        counter_id, token = job
        got: list[int] = []
        with _client(live_server, token) as staff:
            start.wait()
            while True:
                r = staff.post(f"/api/v1/counters/{counter_id}/call-next")
                if r.status_code == 204:
                    return got
                assert r.status_code == 200, r.text
                got.append(r.json()["id"])

    with ThreadPoolExecutor(COUNTERS) as pool:
        results = list(pool.map(work, zip(counters, tokens, strict=True)))
    called = [tid for got in results for tid in got]
    duplicates = [tid for tid, n in Counter(called).items() if n > 1]
    assert duplicates == []
    assert sorted(called) == sorted(issued)
    assert sum(1 for got in results if got) > 1  # the work really was spread over counters
    with _client(live_server, seeded.tokens["staff"]) as staff:
        snap = staff.get("/api/v1/queue").json()
    assert snap["waiting_total"] == 0
    # The last "call next" (answered 204) finished each counter's ticket: nothing is left half-served.
    assert [c["ticket"] for c in snap["counters"] if c["ticket"]] == []


def test_concurrent_calls_on_one_counter_hold_one_ticket(live_server: LiveServer, seeded: Seeded) -> None:
    s = seeded.services
    with _client(live_server, seeded.tokens["kiosk"]) as kiosk:
        for _ in range(30):
            kiosk.post("/api/v1/tickets", json={"service_id": s["A"]})
    counter = seeded.counters["1"]

    def press(_: int) -> int:
        with _client(live_server, seeded.tokens["staff"]) as staff:
            return staff.post(f"/api/v1/counters/{counter}/call-next").status_code

    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(press, range(20)))
    assert set(codes) <= {200, 409}
    with _client(live_server, seeded.tokens["staff"]) as staff:
        snap = staff.get("/api/v1/queue").json()
    holding = [c for c in snap["counters"] if c["ticket"] and c["id"] == counter]
    assert len(holding) == 1
    a = next(x for x in snap["services"] if x["prefix"] == "A")
    assert a["waiting_count"] == 30 - codes.count(200)


def test_concurrent_issuing_never_duplicates_a_number(live_server: LiveServer, seeded: Seeded) -> None:
    s = seeded.services
    per_thread, threads = 15, 16
    start = threading.Barrier(threads)

    def issue(_: int) -> list[str]:
        with _client(live_server, seeded.tokens["kiosk"]) as kiosk:
            start.wait()
            out = []
            for _ in range(per_thread):
                r = kiosk.post("/api/v1/tickets", json={"service_id": s["A"]})
                assert r.status_code == 201, r.text
                out.append(r.json()["number"])
            return out

    with ThreadPoolExecutor(threads) as pool:
        numbers = [n for batch in pool.map(issue, range(threads)) for n in batch]
    assert len(numbers) == len(set(numbers)) == per_thread * threads
    assert sorted(numbers) == [f"A{i:03d}" for i in range(1, per_thread * threads + 1)]


def test_concurrent_retries_with_one_idempotency_key_make_one_ticket(live_server: LiveServer, seeded: Seeded) -> None:
    s = seeded.services
    start = threading.Barrier(10)

    def tap(_: int) -> tuple[int, int]:
        with _client(live_server, seeded.tokens["kiosk"]) as kiosk:
            start.wait()
            r = kiosk.post("/api/v1/tickets", json={"service_id": s["B"]}, headers={"Idempotency-Key": "double-tap-42"})
            return r.status_code, r.json()["id"]

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(tap, range(10)))
    assert {tid for _, tid in results} == {results[0][1]}
    assert sorted(code for code, _ in results) == [200] * 9 + [201]
