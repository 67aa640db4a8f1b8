"""Benchmark: many branches in one database (issue 15). Issue and call-next against one branch while the database
holds 1 branch, then 100 branches x 20 counters with 30 days of history each; and the head-office report over
100 branches x 30 days (GET /api/v1/reports/branches). Figures go to docs/performance.md ("Many branches").

    .venv/bin/python bench/branches.py                          # SQLite and PostgreSQL
    .venv/bin/python bench/branches.py --only postgres --per-day 200 --taps 3000
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Server, database, machine, pct, seed, settings_for, table  # noqa: E402

BRANCHES = 100
COUNTERS = 20
DAYS = 30


async def _issue(base: str, token: str, service_ids: list[int], taps: int, clients: int) -> tuple[float, list[float]]:
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    left = iter(range(taps))

    async def client_loop(client: httpx.AsyncClient) -> None:
        for i in left:
            t0 = time.perf_counter()
            r = await client.post(
                "/api/v1/tickets",
                json={"service_id": service_ids[i % len(service_ids)]},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            latencies.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 201, r.text

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
        return taps / (time.perf_counter() - t0), latencies


async def _drain(base: str, counters: list[int], tokens: list[str]) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    called: list[int] = []

    async def counter_loop(client: httpx.AsyncClient, counter_id: int, token: str) -> None:
        while True:
            t0 = time.perf_counter()
            r = await client.post(
                f"/api/v1/counters/{counter_id}/call-next", headers={"Authorization": f"Bearer {token}"}
            )
            latencies.append((time.perf_counter() - t0) * 1000)
            if r.status_code == 204:
                return
            assert r.status_code == 200, r.text
            called.append(r.json()["id"])

    async with httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=len(counters)), timeout=30) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(counter_loop(c, cid, tok) for cid, tok in zip(counters, tokens, strict=True)))
        elapsed = time.perf_counter() - t0
    assert len(called) == len(set(called)), "a ticket was called twice"
    return len(called) / elapsed, latencies, len(called)


def _grow(url: str, *, per_day: int) -> tuple[int, float]:
    """Add BRANCHES-1 branches (4 services, COUNTERS counters each) and DAYS days of finished tickets for every
    branch, in bulk (Core inserts). Returns (tickets written, seconds)."""
    from sqlalchemy import insert, select

    from wins.branches.models import Branch
    from wins.counters.models import Counter, CounterService
    from wins.db import Database
    from wins.services.models import Service
    from wins.tickets.models import Ticket

    t0 = time.perf_counter()
    db = Database(settings_for(url))
    now = datetime.now(UTC)
    with db.session() as session:
        first = session.scalars(select(Branch.id).order_by(Branch.id)).first()
        for n in range(2, BRANCHES + 1):
            branch = Branch(name=f"Branch {n:03d}", timezone="UTC", day_rollover_hour=0, settings={})
            session.add(branch)
            session.flush()
            services = []
            for prefix in "ABCD":
                service = Service(branch_id=branch.id, name=f"Service {prefix}", prefix=prefix)
                session.add(service)
                services.append(service)
            session.flush()
            counter_ids = (
                session.execute(
                    insert(Counter).returning(Counter.id),
                    [{"branch_id": branch.id, "name": f"C{i + 1}", "active": True} for i in range(COUNTERS)],
                )
                .scalars()
                .all()
            )
            session.execute(
                insert(CounterService),
                [
                    {"counter_id": cid, "service_id": s.id, "position": pos}
                    for cid in counter_ids
                    for pos, s in enumerate(services)
                ],
            )
        rows = session.execute(select(Service.id, Service.branch_id, Service.prefix)).all()
        counters_of: dict[int, list[int]] = {}
        for cid, bid in session.execute(select(Counter.id, Counter.branch_id)).all():
            counters_of.setdefault(bid, []).append(cid)
    assert first is not None
    written = 0
    today = now.date()
    with db.session() as session:
        batch: list[dict[str, Any]] = []
        for day_back in range(1, DAYS + 1):
            day: date = today - timedelta(days=day_back)
            midnight = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
            by_branch: dict[int, list[tuple[int, str]]] = {}
            for sid, bid, prefix in rows:
                by_branch.setdefault(bid, []).append((sid, prefix))
            for bid, services in by_branch.items():
                counters = counters_of[bid]
                for i in range(per_day):
                    sid, prefix = services[i % len(services)]
                    seq = i // len(services) + 1
                    issued = midnight + timedelta(seconds=30 * i)
                    called = issued + timedelta(seconds=120 + i % 600)
                    status = "no_show" if i % 20 == 0 else "done"
                    batch.append(
                        {
                            "branch_id": bid, "service_id": sid, "issued_service_id": sid, "business_day": day,
                            "seq": seq, "number": f"{prefix}{seq:03d}", "priority": False, "status": status,
                            "tracking_token": secrets.token_hex(12), "issued_at": issued, "queue_at": issued,
                            "first_called_at": called, "called_at": called,
                            "serving_at": called + timedelta(seconds=20) if status == "done" else None,
                            "finished_at": called + timedelta(seconds=200 + i % 300),
                            "counter_id": counters[i % len(counters)], "call_count": 1, "transfer_count": 0,
                        }
                    )  # fmt: skip
                    if len(batch) >= 5000:
                        session.execute(insert(Ticket), batch)
                        written += len(batch)
                        batch = []
        if batch:
            session.execute(insert(Ticket), batch)
            written += len(batch)
    db.dispose()
    return written, time.perf_counter() - t0


def _measure(url: str, kind: str, data: Any, *, taps: int) -> dict[str, Any]:
    server = Server(url, workers=1 if kind == "sqlite" else 2).start()
    try:
        ids = list(data.services.values())
        asyncio.run(_issue(server.base, data.kiosk_token, ids, 200, 8))  # warm up (caches, connections)
        asyncio.run(_drain(server.base, data.counters, data.staff_tokens))
        rate, lat = asyncio.run(_issue(server.base, data.kiosk_token, ids, taps, 16))
        calls, call_lat, n = asyncio.run(_drain(server.base, data.counters, data.staff_tokens))
        report_ms = []
        headers = {"Authorization": f"Bearer {data.admin_token}"}
        last = datetime.now(UTC).date() - timedelta(days=1)
        first = last - timedelta(days=DAYS - 1)
        for _ in range(3):
            t0 = time.perf_counter()
            r = httpx.get(
                f"{server.base}/api/v1/reports/branches?first={first}&last={last}", headers=headers, timeout=120
            )
            report_ms.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
        rows = r.json()["branches"]
    finally:
        server.stop()
    return {
        "issue/s": f"{rate:.0f}",
        "issue p99 ms": f"{pct(lat, 99):.1f}",
        "call-next/s": f"{calls:.0f}",
        "call p99 ms": f"{pct(call_lat, 99):.1f}",
        "calls": n,
        "report ms (median of 3)": f"{statistics.median(report_ms):.0f}",
        "report rows": len(rows),
        "history tickets": sum(row["issued"] for row in rows),
    }


def _measure_in_process(url: str, data: Any, *, taps: int) -> dict[str, Any]:
    """The same figures without HTTP (the service calls the routes make, one transaction each): for a box too
    busy to start servers in time, and to see the database's share alone."""
    from sqlalchemy import select

    from wins.auth import Principal, staff_principal
    from wins.db import Database
    from wins.devices.models import Device
    from wins.reports.branches import branches_report
    from wins.staff.models import StaffUser
    from wins.tickets.calling import call_next
    from wins.tickets.issuing import issue

    db = Database(settings_for(url))
    with db.session() as session:
        kiosk = session.scalars(select(Device).where(Device.kind == "kiosk").order_by(Device.id)).first()
        staff = session.scalars(select(StaffUser).where(StaffUser.username == "staff0")).one()
        actor = staff_principal(session, staff)
    device = Principal(device=kiosk)
    ids = list(data.services.values())
    lat: list[float] = []
    t0 = time.perf_counter()
    for i in range(taps):
        t1 = time.perf_counter()
        with db.session() as session:
            issue(session, service_id=ids[i % len(ids)], actor=device, idempotency_key=uuid.uuid4().hex)
        lat.append((time.perf_counter() - t1) * 1000)
    rate = taps / (time.perf_counter() - t0)
    call_lat: list[float] = []
    calls = 0
    t0 = time.perf_counter()
    while True:
        t1 = time.perf_counter()
        with db.session() as session:
            got = call_next(session, counter_id=data.counters[calls % len(data.counters)], actor=actor)
        call_lat.append((time.perf_counter() - t1) * 1000)
        if got is None:
            break
        calls += 1
    call_rate = calls / (time.perf_counter() - t0)
    last = datetime.now(UTC).date() - timedelta(days=1)
    first = last - timedelta(days=DAYS - 1)
    report_ms, report_cpu = [], []
    for _ in range(3):
        t1, c1 = time.perf_counter(), time.process_time()
        with db.session(write=False) as session:
            report = branches_report(session, first_day=first, last_day=last)
        report_ms.append((time.perf_counter() - t1) * 1000)
        report_cpu.append((time.process_time() - c1) * 1000)  # SQLite: all of it; PostgreSQL: the client's share
    db.dispose()
    return {
        "issue/s": f"{rate:.0f}",
        "issue p50 ms": f"{statistics.median(lat):.1f}",
        "call-next/s": f"{call_rate:.0f}",
        "call p50 ms": f"{statistics.median(call_lat):.1f}",
        "calls": calls,
        "report ms (median of 3)": f"{statistics.median(report_ms):.0f}",
        "report CPU ms": f"{statistics.median(report_cpu):.0f}",
        "report rows": len(report["branches"]),
        "history tickets": report["total"]["issued"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--taps", type=int, default=2000, help="tickets issued (then called) per measurement")
    parser.add_argument("--per-day", type=int, default=100, help="history tickets per branch per day")
    parser.add_argument("--in-process", action="store_true", help="call the services directly, no HTTP server")
    args = parser.parse_args()
    measure = _measure_in_process if args.in_process else _measure
    print(machine())
    out = []
    for kind in [args.only] if args.only else ["sqlite", "postgres"]:
        with database(kind) as url:
            data = seed(url, counters=COUNTERS, services="ABCD")
            one = (
                measure(url, kind, data, taps=args.taps) if not args.in_process else measure(url, data, taps=args.taps)
            )
            written, seconds = _grow(url, per_day=args.per_day)
            print(f"{kind}: seeded {BRANCHES - 1} more branches and {written} history tickets in {seconds:.1f} s")
            many = (
                measure(url, kind, data, taps=args.taps) if not args.in_process else measure(url, data, taps=args.taps)
            )
        for label, figures in (("1 branch", one), (f"{BRANCHES} branches", many)):
            out.append([kind, label, *figures.values()])
        print(table(["database", "branches", *one.keys()], out), flush=True)  # after each database


if __name__ == "__main__":
    main()
