"""Where an issue's time goes on PostgreSQL, without HTTP: round trips per issue, the time of one issue, and the
CPU PostgreSQL itself spends on it, measured in-process on a fresh database.

    .venv/bin/python bench/issue_round_trips.py                 # this checkout
    PYTHONPATH=/path/to/other/checkout/src .venv/bin/python bench/issue_round_trips.py   # another version

Two paths, each with an Idempotency-Key (what kiosks send) and without:
- the route (`issuing.issue` in a Session, one thread): every statement the driver sends (SQLAlchemy's
  before_cursor_execute) plus the transaction's BEGIN and COMMIT;
- the express lane (`issuing.issue_on_loop_pg` on the event loop's pool, autocommit): one statement per issue,
  one after the other, then 16 at once (`--tasks`) on one service and on three.

"PG CPU ms" is the user + system CPU time of every PostgreSQL process (from /proc) per issue: the database's
own share, which hardly depends on what else the machine runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import database, machine, seed, settings_for, table  # noqa: E402


def postgres_cpu_seconds() -> float:
    """User + system CPU time of all PostgreSQL processes on this machine so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, _, rest = stat.partition("(")[2].rpartition(")")
        if name.startswith("postgres"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def p99(times: list[float]) -> float:
    times = sorted(times)
    return times[max(int(len(times) * 0.99) - 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=16, help="issues at once on the loop (pool: the default size)")
    args = parser.parse_args()

    from sqlalchemy import event, select

    import wins
    from wins.auth import Principal
    from wins.db import Database
    from wins.devices.models import Device
    from wins.tickets import issuing

    print(f"# issuing on PostgreSQL, in-process — {machine()}")
    print(f"# code: {Path(wins.__file__).resolve().parent}")
    rows = []
    with database("postgres") as url:
        data = seed(url, counters=1)
        settings = settings_for(url)
        db = Database(settings)
        try:
            with db.session(write=False) as session:
                kiosk = session.scalars(select(Device).where(Device.kind == "kiosk")).first()
                assert kiosk is not None
                session.expunge(kiosk)
            actor = Principal(device=kiosk)
            statements: list[str] = []

            @event.listens_for(db.write_engine, "before_cursor_execute")
            def _count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
                statements.append(statement)

            services = list(data.services.values())
            service_id = services[0]
            for keyed in (True, False):
                times: list[float] = []
                counts: list[int] = []
                cpu = postgres_cpu_seconds()
                for _ in range(args.tickets):
                    statements.clear()
                    key = uuid.uuid4().hex if keyed else None
                    start = time.perf_counter()
                    with db.session() as session:
                        issuing.issue(session, service_id=service_id, actor=actor, idempotency_key=key)
                    times.append((time.perf_counter() - start) * 1000)
                    counts.append(len(statements) + 2)  # + BEGIN and COMMIT
                cpu = (postgres_cpu_seconds() - cpu) * 1000 / args.tickets
                rows.append(
                    ["route", "yes" if keyed else "no", 1, statistics.median(counts), *_ms(times), f"{cpu:.2f}", "-"]
                )
                print("  route statements:", " | ".join(" ".join(s.split()[:2])[:32] for s in statements))
            if db.loop_pool is not None:
                rows += asyncio.run(_lane(db, settings, actor, services, args.tickets, args.tasks))
        finally:
            db.dispose()
    print(
        table(
            [
                "path",
                "Idempotency-Key",
                "at once",
                "round trips per issue",
                "ms per issue (median)",
                "p99 ms",
                "PG CPU ms per issue",
                "issues/s",
            ],
            rows,
        )
    )


def _ms(times: list[float]) -> list[str]:
    return [f"{statistics.median(times):.2f}", f"{p99(times):.2f}"]


async def _lane(db: Any, settings: Any, actor: Any, services: list[int], tickets: int, tasks: int) -> list[list[Any]]:
    from wins.schemas import TicketCreate
    from wins.tickets import issuing

    pool = db.loop_pool
    sent = [0]
    fetchone = pool.fetchone

    async def counted(*a: Any) -> Any:
        sent[0] += 1  # one autocommit statement: one round trip
        return await fetchone(*a)

    pool.fetchone = counted
    rows: list[list[Any]] = []

    async def one(service_id: int, key: str | None, times: list[float]) -> None:
        start = time.perf_counter()
        answer = await issuing.issue_on_loop_pg(db, settings, actor, TicketCreate(service_id=service_id), key)
        times.append((time.perf_counter() - start) * 1000)
        assert answer is not None and answer[1], "the lane handed the issue to the route"

    await one(services[0], None, [])  # opens the first connection, fills the caches
    for keyed in (True, False):
        times: list[float] = []
        sent[0] = 0
        cpu = postgres_cpu_seconds()
        for _ in range(tickets):
            await one(services[0], uuid.uuid4().hex if keyed else None, times)
        cpu = (postgres_cpu_seconds() - cpu) * 1000 / tickets
        rows.append(["lane", "yes" if keyed else "no", 1, sent[0] / tickets, *_ms(times), f"{cpu:.2f}", "-"])
    for spread in (services[:1], services):
        times = []
        sent[0] = 0
        queue = [spread[i % len(spread)] for i in range(tickets * 2)]

        async def worker(queue: list[int] = queue, times: list[float] = times) -> None:
            while queue:
                await one(queue.pop(), uuid.uuid4().hex, times)

        cpu = postgres_cpu_seconds()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(tasks)))
        elapsed = time.perf_counter() - start
        cpu = (postgres_cpu_seconds() - cpu) * 1000 / len(times)
        label = f"lane, {len(spread)} service{'s' if len(spread) > 1 else ''}"
        rows.append(
            [label, "yes", tasks, sent[0] / len(times), *_ms(times), f"{cpu:.2f}", f"{len(times) / elapsed:,.0f}"]
        )
    await db.close_loop_pool()
    return rows


if __name__ == "__main__":
    main()
