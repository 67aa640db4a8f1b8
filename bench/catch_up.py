"""Benchmark 4: a subscriber that comes back 10,000 events behind gets them all, in order, in under a second
(WebSocket with ?since=, and long-poll pages of 1,000). SQLite and PostgreSQL, one worker.

    .venv/bin/python bench/catch_up.py [--events 10000] [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Server, database, machine, median, seed, settings_for, table  # noqa: E402


def write_events(url: str, count: int) -> tuple[int, int]:
    """Append `count` realistic ticket events to the log (as one transaction); returns (first id, last id)."""
    from wins import clock
    from wins.db import Database
    from wins.events.models import Event

    db = Database(settings_for(url))
    now = clock.utcnow()
    with db.session() as session:
        rows = [
            Event(
                type="ticket.called",
                at=now,
                branch_id=1,
                data={"id": i, "number": f"A{i % 1000:03d}", "status": "called", "counter_id": 1, "service_id": 1},
            )
            for i in range(count)
        ]
        session.add_all(rows)
        session.flush()
        first, last = rows[0].id, rows[-1].id
    db.dispose()
    return first, last


async def by_socket(base: str, token: str, since: int, last: int) -> float:
    url = base.replace("http://", "ws://") + f"/api/v1/events/ws?since={since}"
    t0 = time.perf_counter()
    expected = since + 1
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None) as ws:
        while expected <= last:
            event = json.loads(await ws.recv())
            if event["type"] in ("hello", "ping"):
                continue
            assert event["id"] == expected, f"gap or disorder: got {event['id']}, expected {expected}"
            expected += 1
    return time.perf_counter() - t0


def by_poll(base: str, token: str, since: int, last: int) -> float:
    t0 = time.perf_counter()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        position = since
        while position < last:
            body = client.get("/api/v1/events", params={"since": position, "timeout": 0}).json()
            ids = [e["id"] for e in body["events"]]
            assert ids == list(range(position + 1, position + 1 + len(ids))), "gap or disorder"
            position = body["last_id"]
    return time.perf_counter() - t0


def run(kind: str, events: int, reps: int) -> list[list[object]]:
    with database(kind) as url:
        data = seed(url, counters=1)
        first, last = write_events(url, events)
        with Server(url, cpus="0" if kind == "sqlite" else None, log_level="WARNING") as server:
            token = data.display_tokens[0]
            ws = [asyncio.run(by_socket(server.base, token, first - 1, last)) for _ in range(reps)]
            poll = [by_poll(server.base, token, first - 1, last) for _ in range(reps)]
    return [
        [kind, "WebSocket ?since=", events, f"{median(ws) * 1000:.0f}", f"{max(ws) * 1000:.0f}", "in order, no gap"],
        [kind, "long-poll (1,000/page)", events, f"{median(poll) * 1000:.0f}", f"{max(poll) * 1000:.0f}", "in order"],
    ]


HEADERS = ["db", "path", "events behind", "median ms", "worst ms", "check"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    print(f"# catch-up after {args.events} events — {machine()}\n")
    rows = []
    for kind in ("sqlite", "postgres"):
        if args.only in (None, kind):
            rows += run(kind, args.events, args.reps)
    print(table(HEADERS, rows))


if __name__ == "__main__":
    main()
