"""Benchmark 5: cost vs history size. Past tickets (finished, spread over past business days) are bulk-inserted
with SQL (executemany on SQLite, COPY on PostgreSQL), then, at each size, today's issue and call-next latency
(sequential, over HTTP), the queue snapshot and a 30-day report (wins.reports.service.build_report,
in-process) are timed. The past tickets have no event-log rows (a real site prunes its event log).

    .venv/bin/python bench/history.py                          # SQLite: 0, 100k, 1M, 5M
    .venv/bin/python bench/history.py --db postgres --sizes 0 100000 1000000
    .venv/bin/python bench/history.py --report-only            # only the 30-day report (no server)
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sqlite3
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Server, database, machine, median, pct, seed, settings_for, table  # noqa: E402

COLUMNS = (
    "branch_id, service_id, issued_service_id, business_day, seq, number, priority, status, tracking_token, "
    "issued_at, queue_at, called_at, first_called_at, serving_at, finished_at, call_count, transfer_count, "
    "counter_id, staff_id, idempotency_key"
)
PER_DAY = 4000


def past_rows(start: int, count: int, services: list[int], counters: list[int]) -> list[tuple]:
    """`count` finished tickets, PER_DAY per business day going backwards from yesterday."""
    rows = []
    today = date.today()
    rng = random.Random(start)
    for i in range(start, start + count):
        day = today - timedelta(days=1 + i // PER_DAY)
        seq = i % PER_DAY + 1
        service = services[seq % len(services)]
        issued = datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(seconds=seq * 8)
        called = issued + timedelta(seconds=rng.randint(30, 1800))
        serving = called + timedelta(seconds=20)
        finished = serving + timedelta(seconds=rng.randint(60, 600))
        counter = counters[seq % len(counters)]
        rows.append(
            (
                1,
                service,
                service,
                day,
                seq * 10 + service,  # unique per service-day whatever the service count
                f"H{seq:04d}",
                False,
                "done",
                secrets.token_urlsafe(24),
                issued,
                issued,
                called,
                called,
                serving,
                finished,
                1,
                0,
                counter,
                1,
                secrets.token_hex(16),  # kiosks send a key with every tap: history has as many as tickets
            )
        )
    return rows


def insert_sqlite(path: str, rows: list[tuple]) -> None:
    conn = sqlite3.connect(path)
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    converted = [
        (*r[:3], r[3].isoformat(), *r[4:9], *(v.astimezone(UTC).strftime(fmt) for v in r[9:15]), *r[15:]) for r in rows
    ]
    with conn:
        conn.executemany(f"INSERT INTO tickets ({COLUMNS}) VALUES ({', '.join('?' * 20)})", converted)
    conn.close()


def insert_postgres(url: str, rows: list[tuple]) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY tickets ({COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        cur.execute("ANALYZE tickets")


def grow(kind: str, url: str, have: int, want: int, services: list[int], counters: list[int]) -> float:
    t0 = time.perf_counter()
    for start in range(have, want, 200_000):
        rows = past_rows(start, min(200_000, want - start), services, counters)
        if kind == "sqlite":
            insert_sqlite(url.removeprefix("sqlite:///"), rows)
        else:
            insert_postgres(url, rows)
    if kind == "sqlite" and want > have:
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("ANALYZE")
        conn.close()
    return time.perf_counter() - t0


def measure_report(url: str, runs: int = 5) -> dict[str, float]:
    """The 30-day report, in-process: best and median wall time of `runs`, and the client's CPU time of the
    best run (all of the work on SQLite; on PostgreSQL the server's share is not in it)."""
    from wins.db import Database
    from wins.reports.service import build_report

    db = Database(settings_for(url))
    timings = []
    for _ in range(runs):
        with db.session(write=False) as session:
            t0, c0 = time.perf_counter(), time.process_time()
            report = build_report(session, first_day=date.today() - timedelta(days=30), last_day=date.today())
            timings.append(((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000))
    db.dispose()
    best = min(timings)
    return {
        "report_ms": best[0],
        "report_median_ms": median([t for t, _ in timings]),
        "report_cpu_ms": best[1],
        "report_tickets": float(report.total["issued"]),
    }


def measure(kind: str, url: str, data: object, n: int, cpus: str | None) -> dict[str, float]:
    out: dict[str, float] = {}
    with Server(url, cpus=cpus if kind == "sqlite" else None, log_level="WARNING") as server:
        kiosk = {"Authorization": f"Bearer {data.kiosk_token}"}
        staff = {"Authorization": f"Bearer {data.staff_tokens[0]}"}
        with httpx.Client(base_url=server.base, timeout=30) as client:
            issue, call, snap = [], [], []
            for i in range(n + 20):
                if i == 20:
                    cpu0 = server.cpu_seconds()
                t0 = time.perf_counter()
                headers = {**kiosk, "Idempotency-Key": secrets.token_hex(16)}
                r = client.post("/api/v1/tickets", json={"service_id": data.services["A"]}, headers=headers)
                assert r.status_code == 201
                if i >= 20:
                    issue.append((time.perf_counter() - t0) * 1000)
            out["issue_cpu_ms"] = (server.cpu_seconds() - cpu0) * 1000 / n
            for i in range(n + 10):
                if i == 10:
                    cpu0 = server.cpu_seconds()
                t0 = time.perf_counter()
                r = client.post(f"/api/v1/counters/{data.counters[0]}/call-next", headers=staff)
                assert r.status_code == 200
                if i >= 10:
                    call.append((time.perf_counter() - t0) * 1000)
            out["call_cpu_ms"] = (server.cpu_seconds() - cpu0) * 1000 / n
            for _ in range(30):
                t0 = time.perf_counter()
                assert client.get("/api/v1/queue", headers=staff).status_code == 200
                snap.append((time.perf_counter() - t0) * 1000)
    out.update(
        issue_p50=pct(issue, 50),
        issue_p99=pct(issue, 99),
        call_p50=pct(call, 50),
        call_p99=pct(call, 99),
        snapshot_p50=pct(snap, 50),
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sizes", type=int, nargs="*", default=[0, 100_000, 1_000_000, 5_000_000])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--report-only", action="store_true", help="time only the 30-day report (no server)")
    parser.add_argument("--server-cpus", default="0", help="taskset CPU list for the SQLite server (default 0)")
    args = parser.parse_args()
    print(f"# history scale ({args.db}) — {machine()}\n")
    headers = ["past tickets", "build s"]
    if not args.report_only:
        headers += ["issue p50 ms", "issue p99 ms", "issue server CPU ms", "call p50 ms", "call p99 ms"]
        headers += ["call server CPU ms", "snapshot p50 ms"]
    headers += ["30-day report ms", "report median ms", "report client CPU ms", "tickets in report", "load avg"]
    rows = []
    with database(args.db) as url:
        data = seed(url, counters=4)
        have = 0
        for size in args.sizes:
            built = grow(args.db, url, have, size, list(data.services.values()), data.counters)
            have = size
            row = [f"{size:,}", f"{built:.0f}"]
            if not args.report_only:
                m = measure(args.db, url, data, args.requests, args.server_cpus)
                keys = ("issue_p50", "issue_p99", "issue_cpu_ms", "call_p50", "call_p99", "call_cpu_ms", "snapshot_p50")
                row += [f"{m[k]:.2f}" if k.endswith("cpu_ms") else f"{m[k]:.1f}" for k in keys]
            r = measure_report(url)
            row += [
                f"{r['report_ms']:.0f}",
                f"{r['report_median_ms']:.0f}",
                f"{r['report_cpu_ms']:.0f}",
                f"{r['report_tickets']:,.0f}",
                " ".join(f"{v:.1f}" for v in os.getloadavg()),
            ]
            rows.append(row)
            print("  ", rows[-1], flush=True)
    print()
    print(table(headers, rows))


if __name__ == "__main__":
    main()
