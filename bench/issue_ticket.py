"""Benchmark 1: issue tickets over real HTTP with wrk (unique Idempotency-Key per request, kiosk token).

    .venv/bin/python bench/issue_ticket.py                    # SQLite 1 worker + PostgreSQL 1/2/4 workers
    .venv/bin/python bench/issue_ticket.py --only sqlite --clients 16 --reps 5 --seconds 5

Pinning on a 2-core machine: the SQLite server runs on CPU 0 and wrk (one thread) on CPU 1. With PostgreSQL
the server workers and PostgreSQL share both CPUs and wrk is pinned to CPU 1 (there is no spare core).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Server, database, machine, median, seed, table, taskset  # noqa: E402

LUA = ROOT / "bench" / "issue.lua"


def wrk(base: str, *, clients: int, seconds: float, token: str, service_id: int, cpus: str | None) -> dict:
    env = {**os.environ, "WINS_TOKEN": token, "WINS_SERVICE_ID": str(service_id)}
    cmd = [
        *taskset(cpus),
        "wrk",
        "-t1",
        f"-c{clients}",
        f"-d{int(seconds)}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        base,
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    data = json.loads(line.removeprefix("WRKJSON "))
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    return data


def run(kind: str, workers: int, clients_list: list[int], *, reps: int, seconds: float, warmup: float) -> list[list]:
    server_cpus, wrk_cpus = ("0", "1") if kind == "sqlite" else (None, "1")
    rows = []
    with database(kind) as url:
        seeded = seed(url, counters=2)
        with Server(url, workers=workers, cpus=server_cpus) as server:
            token, service_id = seeded.kiosk_token, seeded.services["A"]
            wrk(server.base, clients=16, seconds=warmup, token=token, service_id=service_id, cpus=wrk_cpus)
            for clients in clients_list:
                results = []
                for _ in range(reps):
                    cpu_before = server.cpu_seconds()
                    result = wrk(
                        server.base, clients=clients, seconds=seconds, token=token, service_id=service_id, cpus=wrk_cpus
                    )
                    # Server CPU per ticket: what the figure would be on an idle core, whatever else ran here.
                    result["cpu_ms"] = (server.cpu_seconds() - cpu_before) * 1000 / max(result["requests"], 1)
                    results.append(result)
                bad = sum(r["non2xx"] + r["connect_errors"] + r["read_errors"] + r["timeouts"] for r in results)
                rows.append(
                    [
                        kind,
                        workers,
                        clients,
                        f"{median([r['rps'] for r in results]):,.0f}",
                        f"{median([r['p50_us'] for r in results]) / 1000:.1f}",
                        f"{median([r['p99_us'] for r in results]) / 1000:.1f}",
                        f"{max(r['p99_us'] for r in results) / 1000:.1f}",
                        f"{median([r['cpu_ms'] for r in results]):.2f}",
                        bad,
                    ]
                )
                print("  ", rows[-1], flush=True)
    return rows


HEADERS = [
    "db",
    "workers",
    "clients",
    "tickets/s (median)",
    "p50 ms",
    "p99 ms (median)",
    "p99 ms (worst)",
    "server CPU ms/ticket",
    "errors",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--clients", type=int, nargs="*", default=[1, 16, 64])
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4], help="PostgreSQL worker counts")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=3)
    args = parser.parse_args()
    print(f"# issue ticket over HTTP (wrk) — {machine()}")
    print(f"# {args.reps} repetitions of {args.seconds}s after a {args.warmup}s warm-up; medians across repetitions\n")
    rows = []
    if args.only in (None, "sqlite"):
        rows += run("sqlite", 1, args.clients, reps=args.reps, seconds=args.seconds, warmup=args.warmup)
    if args.only in (None, "postgres"):
        for workers in args.workers:
            rows += run("postgres", workers, args.clients, reps=args.reps, seconds=args.seconds, warmup=args.warmup)
    print()
    print(table(HEADERS, rows))


if __name__ == "__main__":
    main()
