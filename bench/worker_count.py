"""What more worker processes than CPUs cost, with WINS and without it (issue 15: "4 workers no slower than 2").

    .venv/bin/python bench/worker_count.py --workers 1 2 4 --reps 3 --seconds 5

For each worker count, the same wrk load (one thread pinned to CPU 1, 16 connections, bench/issue.lua: POST a
ticket with a unique Idempotency-Key) against:
- **baseline**: bench/baseline_asgi.py, the smallest server that does what an express-lane tap does (read the
  body, one autocommit INSERT … RETURNING on a per-process pool of psycopg connections, answer 201), under the
  same `uvicorn --workers N --loop uvloop --http httptools` as WINS;
- **wins**: WINS itself on PostgreSQL, as bench/issue_ticket.py runs it.

Both on a fresh PostgreSQL database each. Printed per run: requests/s, p99, server CPU per request and how wrk's
connections were spread over the worker processes (counted with `ss` one second into the run). What the
baseline loses from 2 to 4 workers is the price of the processes on these CPUs, which no change to WINS can
remove; what WINS loses beyond that is WINS's.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Server, database, machine, median, seed, table  # noqa: E402
from issue_ticket import wrk  # noqa: E402


def spread(port: int) -> list[int]:
    """Established server-side connections on `port` per process, most first."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True
    ).stdout
    return sorted(Counter(re.findall(r"pid=(\d+)", out)).values(), reverse=True)


def measure(server: Server, *, token: str, service_id: int, seconds: float) -> dict:
    seen: list[list[int]] = []
    watcher = threading.Timer(1.0, lambda: seen.append(spread(server.port)))
    cpu_before = server.cpu_seconds()
    watcher.start()
    result = wrk(server.base, clients=16, seconds=seconds, token=token, service_id=service_id, cpus="1")
    watcher.join()
    result["cpu_ms"] = (server.cpu_seconds() - cpu_before) * 1000 / max(result["requests"], 1)
    result["spread"] = seen[0] if seen else []
    return result


def run(kind: str, workers: int, *, reps: int, seconds: float) -> list:
    with database("postgres") as url:
        seeded = seed(url, counters=2)
        if kind == "baseline":
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE TABLE baseline_tap (id bigserial PRIMARY KEY, body text NOT NULL)")
            env = {"BASELINE_DATABASE_URL": url, "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT / 'src'}"}
            server = Server(url, workers=workers, extra_env=env, app="baseline_asgi:app")
        else:
            server = Server(url, workers=workers)
        with server:
            token, service_id = seeded.kiosk_token, seeded.services["A"]
            measure(server, token=token, service_id=service_id, seconds=3)  # warm-up
            results = [measure(server, token=token, service_id=service_id, seconds=seconds) for _ in range(reps)]
    bad = sum(r["non2xx"] + r["connect_errors"] + r["read_errors"] + r["timeouts"] for r in results)
    return [
        kind,
        workers,
        f"{median([r['rps'] for r in results]):,.0f}",
        f"{median([r['p99_us'] for r in results]) / 1000:.1f}",
        f"{median([r['cpu_ms'] for r in results]):.3f}",
        "; ".join("/".join(map(str, r["spread"])) for r in results),
        bad,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--kinds", nargs="*", default=["baseline", "wins"], choices=["baseline", "wins"])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    print(f"# worker processes against CPUs, baseline and WINS — {machine()}")
    print(f"# wrk -t1 -c16 pinned to CPU 1; {args.reps} runs of {args.seconds}s after a 3s warm-up; medians\n")
    rows = []
    for workers in args.workers:
        for kind in args.kinds:
            rows.append(run(kind, workers, reps=args.reps, seconds=args.seconds))
            print("  ", rows[-1], flush=True)
    headers = ["server", "workers", "requests/s", "p99 ms", "server CPU ms/request", "connections per worker", "errors"]
    print()
    print(table(headers, rows))


if __name__ == "__main__":
    main()
