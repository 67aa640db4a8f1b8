"""Benchmark 2: 50 counters call-next concurrently until the queue is empty. Throughput, latency, and a hard
check that no ticket was called twice (from the answers and from the database).

    .venv/bin/python bench/call_next.py                      # SQLite 1 worker, PostgreSQL 1/2/4 workers
    .venv/bin/python bench/call_next.py --only sqlite --tickets 3000 --counters 50
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Server, database, machine, pct, seed, settings_for, table  # noqa: E402


def fill_queue(url: str, service_ids: list[int], tickets: int) -> None:
    """Issue the tickets through the real service (one transaction per 500)."""
    from wins.auth import Principal
    from wins.db import Database
    from wins.staff.models import StaffUser
    from wins.tickets.issuing import issue_ticket

    db = Database(settings_for(url))
    with db.session() as session:
        staff = session.query(StaffUser).first()
    actor = Principal(staff=staff)
    done = 0
    while done < tickets:
        with db.session() as session:
            for i in range(done, min(done + 500, tickets)):
                issue_ticket(
                    session, service_id=service_ids[i % len(service_ids)], actor=actor, idempotency_key=uuid.uuid4().hex
                )
        done = min(done + 500, tickets)
    db.dispose()


async def counter_loop(client: httpx.AsyncClient, counter_id: int, token: str, out: list, lat: list) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        t0 = time.perf_counter()
        r = await client.post(f"/api/v1/counters/{counter_id}/call-next", headers=headers)
        lat.append((time.perf_counter() - t0) * 1000)
        if r.status_code == 204:
            return
        assert r.status_code == 200, r.text
        out.append(r.json()["id"])


async def drain(base: str, counters: list[int], tokens: list[str]) -> tuple[list[int], list[float], float]:
    called: list[int] = []
    lat: list[float] = []
    limits = httpx.Limits(max_connections=len(counters) + 5)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(counter_loop(client, c, t, called, lat) for c, t in zip(counters, tokens, strict=True)))
        return called, lat, time.perf_counter() - t0


def db_duplicates(url: str) -> tuple[int, int]:
    """(tickets still waiting, tickets whose event log shows more than one call)."""
    from sqlalchemy import select

    from wins.db import Database
    from wins.events.models import Event
    from wins.tickets.models import Ticket

    db = Database(settings_for(url))
    with db.session(write=False) as session:
        waiting = session.query(Ticket).filter(Ticket.status == "waiting").count()
        calls = Counter(e.data["id"] for e in session.scalars(select(Event).where(Event.type == "ticket.called")))
    db.dispose()
    return waiting, sum(1 for n in calls.values() if n > 1)


def run(kind: str, workers: int, tickets: int, counters: int) -> list[object]:
    with database(kind) as url:
        data = seed(url, counters=counters)
        fill_queue(url, list(data.services.values()), tickets)
        with Server(url, workers=workers, cpus="0" if kind == "sqlite" else None, log_level="WARNING") as server:
            cpu_before = server.cpu_seconds()
            called, lat, seconds = asyncio.run(drain(server.base, data.counters, data.staff_tokens))
            # Server CPU per call: what the figure would be on an idle core, whatever else ran on the machine.
            cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / max(len(called), 1)
        waiting, double = db_duplicates(url)
    dupes = len(called) - len(set(called))
    assert dupes == 0 and double == 0, f"DUPLICATE CALLS: {dupes} in answers, {double} in the event log"
    assert len(called) == tickets and waiting == 0, (len(called), waiting)
    return [
        kind,
        workers,
        counters,
        tickets,
        f"{len(called) / seconds:,.0f}",
        f"{pct(lat, 50):.1f}",
        f"{pct(lat, 99):.1f}",
        f"{max(lat):.1f}",
        f"{cpu_ms:.2f}",
        dupes + double,
    ]


HEADERS = [
    "db",
    "workers",
    "counters",
    "tickets",
    "calls/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "server CPU ms/call",
    "duplicates",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--tickets", type=int, default=3000)
    parser.add_argument("--counters", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    args = parser.parse_args()
    print(f"# call-next from {args.counters} counters until {args.tickets} tickets are called — {machine()}\n")
    rows = []
    if args.only in (None, "sqlite"):
        rows.append(run("sqlite", 1, args.tickets, args.counters))
        print("  ", rows[-1], flush=True)
    if args.only in (None, "postgres"):
        for workers in args.workers:
            rows.append(run("postgres", workers, args.tickets, args.counters))
            print("  ", rows[-1], flush=True)
    print()
    print(table(HEADERS, rows))


if __name__ == "__main__":
    main()
