"""Where the milliseconds of one PostgreSQL issue go (issue 15): one worker under wrk (16 connections, kiosk
token, unique Idempotency-Keys), sampled with py-spy; prints the share of the worker's CPU samples spent in each
part of a request (inclusive: a sample counts for every part on its stack), and the ms per ticket that share
stands for. py-spy samples only the thread holding the GIL (`--gil`): Python's own CPU work, not waiting on
PostgreSQL; the ms per ticket spread the worker's measured CPU time (/proc) over the parts in proportion.

    .venv/bin/pip install py-spy   # not a dependency of WINS; the benchmark machine only
    .venv/bin/python bench/profile_issue.py [--seconds 15]
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Server, database, machine, seed, table  # noqa: E402
from issue_ticket import wrk  # noqa: E402

# (label, substring of a frame "function (file)") — the parts of an issue request, outermost first.
PARTS = [
    ("ASGI server: HTTP parsing, event loop", "uvicorn/"),
    ("WINS middlewares (retry, body limit, access log, headers)", "wins/retry.py"),
    ("the issue express lane (wins.tickets.express)", "wins/tickets/express.py"),
    ("  its statement on the loop pool (psycopg async)", "fetchone (wins/db.py"),
    ("  after-commit hooks (hub poke, followers' wake-up)", "run_after_commit_hooks ("),
    ("FastAPI routing + dependency resolution", "fastapi/routing.py"),
    ("  sign-in check (token -> principal)", "principal_from_token"),
    ("  request body validation (pydantic)", "_validate_request_body"),
    ("  the route in the thread pool", "anyio/_backends"),
    ("issuing service (wins.tickets.issuing)", "wins/tickets/issuing.py"),
    ("  SQL round trips (psycopg execute)", "psycopg/cursor.py"),
    ("  commit", "commit"),
    ("answer serialisation (pydantic/json)", "serialize_response"),
    ("after-commit event publish", "wins/events/"),
    ("logging", "logging/__init__.py"),
    ("event hub: pump, LISTEN (wins.events.hub)", "wins/events/hub.py"),
    ("  NOTIFYs received (psycopg notifies)", "notifies ("),
    ("background followers (wins.background)", "wins/background.py"),
]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=1, help="profile one of N workers (CPU: all of them)")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    print(f"# where an issue's CPU goes, PostgreSQL, {args.workers} worker(s), wrk 16 connections — {machine()}")
    with database("postgres") as url:
        seeded = seed(url, counters=2)
        with Server(url, workers=args.workers) as server:
            token, service_id = seeded.kiosk_token, seeded.services["A"]
            wrk(server.base, clients=16, seconds=3, token=token, service_id=service_id, cpus="1")
            workers = server.pids()[-args.workers :]
            worker = workers[-1]
            out = Path(tempfile.mkdtemp()) / "issue.txt"
            result: dict = {}

            def load() -> None:
                result.update(
                    wrk(server.base, clients=16, seconds=args.seconds + 2, token=token, service_id=service_id,
                        cpus="1")
                )  # fmt: skip

            thread = threading.Thread(target=load)
            thread.start()
            before = sum(cpu_seconds(pid) for pid in workers)
            subprocess.run(
                [spy, "record", "--gil", "--pid", str(worker), "--duration", str(args.seconds), "--rate", "500",
                 "--format", "raw", "--output", str(out), "--nonblocking"],
                check=True, capture_output=True,
            )  # fmt: skip
            used = sum(cpu_seconds(pid) for pid in workers) - before  # every worker's, spread per ticket
            thread.join()
    stacks: collections.Counter[str] = collections.Counter()
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        stacks[stack] += int(count)
    total = sum(stacks.values())
    rps = result["rps"]
    cpu_ms_per_ticket = used / (rps * args.seconds) * 1000
    rows = []
    for label, needle in PARTS:
        share = sum(n for stack, n in stacks.items() if needle in stack) / total
        rows.append([label, f"{share * 100:.1f}", f"{share * cpu_ms_per_ticket:.2f}"])
    print(f"\n{rps:.0f} tickets/s; {total} samples ({out}); worker CPU ≈ {cpu_ms_per_ticket:.2f} ms per ticket\n")
    print(table(["part of the request", "% of worker CPU samples", "ms per ticket"], rows))
    self_time: collections.Counter[str] = collections.Counter()
    for stack, n in stacks.items():
        self_time[stack.split(";")[-1].strip()] += n
    print("\nTop functions by own time:")
    for frame, n in self_time.most_common(15):
        print(f"  {n / total * 100:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
