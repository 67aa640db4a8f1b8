"""Soak: a compressed busy day. Kiosks issue `--tickets` tickets while `--counters` counters call, serve and
finish them and `--displays` screens follow the WebSocket stream. At the end every display must have received
every event exactly once and in order, nothing may be left waiting, and the server's memory must not have
grown by 10 % or more after warm-up. SQLite, one worker.

Memory is the server's resident set, sampled every 0.5 s; "after warm-up" is the first sample once a fifth of
the tickets are issued (by then the event hub's in-memory buffer, WINS_EVENT_BUFFER_SIZE events, is full on
a full-size run). It is reported whole and split into anonymous pages (the heap: where a leak shows) and
file-backed pages (SQLite's memory map of the growing database file, which the kernel reclaims as needed).

    .venv/bin/python bench/soak.py                               # 20,000 tickets, 30 counters, 50 displays
    .venv/bin/python bench/soak.py --tickets 600 --counters 5 --displays 10 --json   # the test suite's version
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Server, database, machine, seed, settings_for, table, taskset  # noqa: E402


async def kiosk(client: httpx.AsyncClient, token: str, services: list[int], todo: list[int]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    while todo:
        todo.pop()
        body = {"service_id": services[len(todo) % len(services)]}
        r = await client.post("/api/v1/tickets", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 201, r.text


async def counter(client: httpx.AsyncClient, counter_id: int, token: str, issuing: list[int], stats: dict) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        r = await client.post(f"/api/v1/counters/{counter_id}/call-next", headers=headers)
        if r.status_code == 204:
            if not issuing:
                return
            await asyncio.sleep(0.05)
            continue
        assert r.status_code == 200, r.text
        ticket = r.json()["id"]
        stats["called"] += 1
        await client.post(f"/api/v1/tickets/{ticket}/start", headers=headers)
        await client.post(f"/api/v1/tickets/{ticket}/complete", headers=headers)


def rss_kib(server: Server) -> tuple[int, int, int]:
    """(total, anonymous, file-backed) resident KiB of the server. File-backed pages are SQLite's memory map
    of its database file: they grow with the file and are the kernel's page cache, dropped under memory
    pressure. Anonymous pages are the process's own heap, where a leak would show."""
    total = anon = file = 0
    for pid in server.pids():
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile"):
                    kib = int(value.split()[0])
                    total += kib if key == "VmRSS" else 0
                    anon += kib if key == "RssAnon" else 0
                    file += kib if key == "RssFile" else 0
    return total, anon, file


async def day(base: str, data: object, tickets: int, server: Server) -> dict:
    issuing = list(range(tickets))
    stats = {"called": 0, "rss": []}
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def sample_memory() -> None:
            while issuing or stats["called"] < tickets:
                stats["rss"].append((tickets - len(issuing), *rss_kib(server)))
                await asyncio.sleep(0.5)

        kiosks = [kiosk(client, data.kiosk_token, list(data.services.values()), issuing) for _ in range(4)]
        counters = [
            counter(client, c, t, issuing, stats) for c, t in zip(data.counters, data.staff_tokens, strict=True)
        ]
        t0 = time.perf_counter()
        await asyncio.gather(*kiosks, *counters, sample_memory())
        stats["seconds"] = time.perf_counter() - t0
    return stats


def event_ids(url: str, since: int) -> list[int]:
    from sqlalchemy import select

    from wins.db import Database
    from wins.events.models import Event

    db = Database(settings_for(url))
    with db.session(write=False) as session:
        ids = list(session.scalars(select(Event.id).where(Event.id > since).order_by(Event.id)))
    db.dispose()
    return ids


def soak(tickets: int, counters: int, displays: int) -> dict:
    with database("sqlite") as url:
        data = seed(url, counters=counters, displays=1)
        with Server(url, cpus="0", log_level="WARNING") as server:
            with httpx.Client(base_url=server.base) as client:
                since = client.get("/health").json()["last_event_id"]
            out = Path(tempfile.mkstemp(suffix=".json")[1])
            cmd = [
                *taskset("1"),
                sys.executable,
                str(ROOT / "bench" / "subscribers.py"),
                *("--base", server.base, "--token", data.display_tokens[0], "--n", str(displays)),
                *("--since", str(since), "--out", str(out)),
            ]
            subs = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert subs.stdout is not None and subs.stdout.readline().strip() == "ready"
            stats = asyncio.run(day(server.base, data, tickets, server))
            time.sleep(2)
            assert subs.stdin is not None
            subs.stdin.close()
            subs.wait(timeout=120)
        expected = event_ids(url, since)
    received: dict[int, list[int]] = {}
    result = json.loads(out.read_text())
    out.unlink()
    for who, event_id, *_ in result["rows"]:
        received.setdefault(who, []).append(event_id)
    bad = [who for who in range(displays) if received.get(who) != expected]
    rss = stats["rss"]  # (tickets issued, total KiB, anonymous KiB, file-backed KiB)
    after_warmup = [row for row in rss if row[0] >= tickets // 5] or [rss[-1]]
    base, end = after_warmup[0], rss[-1]
    # RSS when 2/5, 3/5 and 4/5 of the tickets had been issued: a plateau or a slope.
    fifths = [next((row for row in rss if row[0] >= tickets * k // 5), end) for k in (2, 3, 4)]
    return {
        "tickets": tickets,
        "counters": counters,
        "displays": displays,
        "seconds": round(stats["seconds"], 1),
        "events": len(expected),
        "displays_with_every_event_once_in_order": displays - len(bad),
        "subscriber_errors": result["failed"],
        "rss_after_warmup_mib": round(base[1] / 1024, 1),
        "rss_at_2_3_4_fifths_mib": " / ".join(f"{row[1] / 1024:.1f}" for row in fifths),
        "anon_at_2_3_4_fifths_mib": " / ".join(f"{row[2] / 1024:.1f}" for row in fifths),
        "rss_end_mib": round(end[1] / 1024, 1),
        "rss_peak_mib": round(max(row[1] for row in rss) / 1024, 1),
        "growth_percent": round((end[1] - base[1]) / base[1] * 100, 1),
        "anon_after_warmup_mib": round(base[2] / 1024, 1),
        "anon_end_mib": round(end[2] / 1024, 1),
        "anon_growth_percent": round((end[2] - base[2]) / base[2] * 100, 1),
        "file_backed_after_warmup_to_end_mib": f"{base[3] / 1024:.1f} -> {end[3] / 1024:.1f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=20000)
    parser.add_argument("--counters", type=int, default=30)
    parser.add_argument("--displays", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print one JSON object (for the test suite)")
    args = parser.parse_args()
    result = soak(args.tickets, args.counters, args.displays)
    if args.json:
        print(json.dumps(result))
        return
    print(f"# soak — {machine()}\n")
    print(table(list(result), [list(result.values())]))


if __name__ == "__main__":
    main()
