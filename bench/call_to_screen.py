"""Benchmark 3: call → screen. Time from a call-next to its event reaching every subscriber, over WebSocket
(N = 100, 1,000, 5,000) and long-poll (N = 200); RSS per idle subscriber; server CPU time spent while the calls
were made, per event delivered to a subscriber (less at the mercy of other load on the machine than latency is).
SQLite, one worker (CPU 0); subscribers in separate processes (CPU 1), at most 2,500 per process.

    .venv/bin/python bench/call_to_screen.py
    .venv/bin/python bench/call_to_screen.py --ws 100 1000 --poll 200 --calls 20
    .venv/bin/python bench/call_to_screen.py --ws 1000 --poll --deflate --client websockets   # as before

The server runs with the shipped WebSocket options (wins.ops.serving: no permessage-deflate); `--deflate`
gives uvicorn's default instead (only the `websockets` client asks for it; the default `raw` client is a bare
one that costs the shared CPUs far less per frame). "frames/call": the events of one call that reached the
subscribers, all of them together; CPU is divided by those frames (the warm-up call's are not counted).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Server, database, machine, pct, seed, table, taskset  # noqa: E402

PER_PROCESS = 2500


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_subscribers(
    bases: list[str],
    token: str | list[str],
    n: int,
    *,
    mode: str,
    since: int,
    cpus: str | None,
    per_process: int = PER_PROCESS,
    client: str = "raw",
) -> tuple[list[subprocess.Popen[str]], list[Path], float]:
    """`n` subscribers in processes of at most `per_process` each, the processes taking `bases` in turn; returns
    once every subscriber is connected: (processes, their output files, seconds it took). Several tokens (the
    displays of several branches): subscriber g of the `n` (counted across processes) takes token g mod k."""
    tokens = [token] if isinstance(token, str) else token
    procs, outs = [], []
    started = time.monotonic()
    for k, i in enumerate(range(0, n, per_process)):
        shift = i % len(tokens)  # the process's first subscriber is subscriber i
        signs_in = [arg for t in tokens[shift:] + tokens[:shift] for arg in ("--token", t)]
        out = Path(tempfile.mkstemp(suffix=".json")[1])
        cmd = [
            *taskset(cpus),
            sys.executable,
            str(ROOT / "bench" / "subscribers.py"),
            "--base",
            bases[k % len(bases)],
            *signs_in,
            "--n",
            str(min(per_process, n - i)),
            "--mode",
            mode,
            "--since",
            str(since),
            "--out",
            str(out),
            "--client",
            client,
        ]
        procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        outs.append(out)
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    return procs, outs, time.monotonic() - started


def pids_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes (e.g. the subscriber processes)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def cpu_rate(cpu_seconds: Callable[[], float], seconds: float) -> float:
    """CPU seconds per second that `cpu_seconds` grows by over `seconds` (with nothing going on: the idle rate)."""
    before, t0 = cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds() - before) / (time.monotonic() - t0)


def settle(procs: list[subprocess.Popen[str]], ticket: int | list[list[int]]) -> list[str]:
    """Let the last fan-out finish: until every subscriber has ticket `ticket`'s `ticket.called` (each process
    answers "caught up", or "timeout k/n" after 2 minutes). A fixed pause stopped a loaded run before its last
    deliveries arrived, which then looked lost. Several tokens: per process, the last ticket of each of its
    tokens' branches, in the order the process took them (0: none)."""
    for k, proc in enumerate(procs):
        assert proc.stdin is not None
        targets = str(ticket) if isinstance(ticket, int) else ",".join(map(str, ticket[k]))
        proc.stdin.write(f"wait {targets}\n")
        proc.stdin.flush()
    answers = []
    for proc in procs:
        assert proc.stdout is not None
        answers.append(proc.stdout.readline().strip())
    return answers


def collect(procs: list[subprocess.Popen[str]], outs: list[Path]) -> tuple[list[list[Any]], int]:
    """Stop the subscribers; every (subscriber, event id, type, ticket id, receive time) row, and how many failed."""
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
    for proc in procs:
        proc.wait(timeout=120)
    rows: list[list[Any]] = []
    failed = 0
    for out in outs:
        result = json.loads(out.read_text())
        rows += result["rows"]
        failed += result["failed"]
        out.unlink()
    return rows, failed


def run(n: int, mode: str, calls: int, gap: float, *, deflate: bool = False, ws_client: str = "raw") -> list[object]:
    # As shipped (wins.ops.serving): no permessage-deflate, unless --deflate asks for uvicorn's default.
    server_env = {"UVICORN_WS_PER_MESSAGE_DEFLATE": "true" if deflate else "false"}
    with database("sqlite") as url:
        data = seed(url, counters=1, displays=1)
        with Server(url, cpus="0", log_level="WARNING", extra_env=server_env) as server:
            kiosk = {"Authorization": f"Bearer {data.kiosk_token}"}
            staff = {"Authorization": f"Bearer {data.staff_tokens[0]}"}
            with httpx.Client(base_url=server.base, timeout=30) as client:
                for _ in range(calls + 1):
                    client.post("/api/v1/tickets", json={"service_id": data.services["A"]}, headers=kiosk)
                since = client.get("/api/v1/queue", headers=staff).json()["last_event_id"]
                time.sleep(1)
                rss_before = server.rss_kib()
                procs, outs, connect_s = start_subscribers(
                    [server.base], data.display_tokens[0], n, mode=mode, since=since, cpus="1", client=ws_client
                )
                time.sleep(2)
                rss_idle = server.rss_kib()
                sent: dict[int, float] = {}
                answered: dict[int, float] = {}
                client.post(f"/api/v1/counters/{data.counters[0]}/call-next", headers=staff)  # warm-up
                time.sleep(gap)
                first_id = client.get("/api/v1/queue", headers=staff).json()["last_event_id"]
                cpu_before = server.cpu_seconds()
                for _ in range(calls):
                    t0 = time.time()
                    r = client.post(f"/api/v1/counters/{data.counters[0]}/call-next", headers=staff)
                    answered[r.json()["id"]] = time.time()
                    sent[r.json()["id"]] = t0
                    time.sleep(gap)
                if mode == "ws":
                    settle(procs, max(sent))
                else:
                    time.sleep(max(1.0, 3 * gap))  # long-polls: the next answer comes within the gap
                cpu = server.cpu_seconds() - cpu_before
            rows, failed = collect(procs, outs)
    delays = [
        (at - answered[ticket]) * 1000
        for _, _, kind, ticket, at in rows
        if kind == "ticket.called" and ticket in answered
    ]
    from_sent = [
        (at - sent[ticket]) * 1000 for _, _, kind, ticket, at in rows if kind == "ticket.called" and ticket in sent
    ]
    expected = n * calls
    # Every event of the measured calls that reached a subscriber (not the warm-up's): what the CPU paid for.
    measured = [row for row in rows if row[1] > first_id]
    return [
        mode,
        n,
        calls,
        f"{len(delays)}/{expected}",
        f"{pct(from_sent, 50):.1f}",
        f"{pct(from_sent, 99):.1f}",
        f"{max(0.0, pct(delays, 99)):.1f}",
        f"{max(from_sent):.1f}",
        f"{connect_s:.1f}",
        f"{(rss_idle - rss_before) / max(n, 1):.1f}",
        f"{len(measured) / max(calls, 1):,.0f}",
        f"{cpu * 1e6 / max(len(measured), 1):.0f}",
        failed,
    ]


HEADERS = [
    "path",
    "subscribers",
    "calls",
    "delivered",
    "p50 ms",
    "p99 ms",
    "p99 ms after response",
    "max ms",
    "connect s",
    "KiB/idle sub",
    "frames/call",
    "server CPU µs/delivery",
    "errors",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ws", type=int, nargs="*", default=[100, 1000, 5000])
    parser.add_argument("--poll", type=int, nargs="*", default=[200])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between calls")
    parser.add_argument(
        "--deflate", action="store_true", help="let WebSockets negotiate permessage-deflate (uvicorn's default)"
    )
    parser.add_argument(
        "--client",
        choices=["raw", "websockets"],
        default="raw",
        help="subscribers' WebSocket client (bench/subscribers.py); only `websockets` offers permessage-deflate",
    )
    args = parser.parse_args()
    raise_fd_limit()
    print(f"# call -> screen — {machine()}")
    print("# latency from sending call-next to the event arriving at each subscriber (all subscribers x calls)\n")
    rows = []
    for n in args.ws:
        rows.append(run(n, "ws", args.calls, args.gap, deflate=args.deflate, ws_client=args.client))
        print("  ", rows[-1], flush=True)
    for n in args.poll:
        rows.append(run(n, "poll", args.calls, args.gap))
        print("  ", rows[-1], flush=True)
    print()
    print(table(HEADERS, rows))


if __name__ == "__main__":
    main()
