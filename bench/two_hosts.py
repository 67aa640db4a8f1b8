"""Benchmark: several hosts (issue 15). Two WINS hosts, each a network namespace with its own address running
gunicorn (deploy/gunicorn.conf.py) with 2 workers, on one PostgreSQL database, nginx (the shipped example, both
hosts as upstreams) in front: the set-up of tests/test_two_hosts.py (tests/support/hosts.py). Needs root.

1. Issue throughput through nginx: `clients` kiosks issuing (fresh Idempotency-Key each) for `seconds`, with wrk
   (bench/issue.lua) when installed, else an asyncio client in this process (which then shares the CPUs).
2. Call → screen: N WebSocket screens spread over both hosts (subscriber processes of ≤ 2,500 screens, taking
   host A and host B in turn, or all through nginx with --via-nginx); calls made on host A and host B in turn;
   latency from sending call-next to the `ticket.called` event at each screen, split by whether the screen
   was on the host that took the call or on the other one (through LISTEN/NOTIFY).
   With --branches N, a chain: the screens are spread evenly over N branches (a display token each), the calls
   rotate over the branches (and hosts), and each screen counts only its own branch's calls.

    sudo .venv/bin/python bench/two_hosts.py                        # 1,000 screens
    sudo .venv/bin/python bench/two_hosts.py --screens 10000        # the target: p99 <= 300 ms
    sudo .venv/bin/python bench/two_hosts.py --screens 200 --calls 5 --seconds 3   # a quick check
    sudo .venv/bin/python bench/two_hosts.py --screens 10000 --branches 500     # a chain of 500 branches
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from call_to_screen import (  # noqa: E402
    PER_PROCESS,
    collect,
    cpu_rate,
    pids_cpu_seconds,
    raise_fd_limit,
    settle,
    start_subscribers,
)
from common import ROOT, SECRET, ChainBranch, database, free_port, machine, pct, seed, seed_chain, table  # noqa: E402
from issue_ticket import wrk  # noqa: E402
from tests.support.hosts import Site, can_make_namespaces, site  # noqa: E402


def host_env(*, log_level: str = "WARNING") -> dict[str, str]:
    """What bench/common.Server gives its server, for gunicorn in a namespace (URL and data folder per host)."""
    return {
        **os.environ,
        "WINS_SECRET_KEY": SECRET,
        "WINS_LOG_LEVEL": log_level,
        "WINS_DEMO_ON_FIRST_START": "false",
        # Thousands of screens on one display token: lift the per-process socket caps.
        "WINS_WS_MAX_PER_PRINCIPAL": "100000",
        "WINS_WS_MAX_TOTAL": "100000",
        "PYTHONPATH": str(ROOT / "src"),
    }


def hosts_cpu_seconds(running: Site, *, system_only: bool = False) -> float:
    """User + system CPU time used so far by every process of every host (each host is one process group);
    `system_only`: the kernel's part alone (sockets, network namespaces)."""
    groups = {h.proc.pid for h in running.hosts}
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) in groups:  # pgrp
                total += int(fields[12]) if system_only else int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


async def _issue_async(base: str, token: str, service_id: int, *, clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def kiosk(client: httpx.AsyncClient, until: float) -> None:
        nonlocal errors
        while time.monotonic() < until:
            t0 = time.monotonic()
            try:
                r = await client.post(
                    "/api/v1/tickets", json={"service_id": service_id}, headers={"Idempotency-Key": uuid.uuid4().hex}
                )
                ok = r.status_code == 201
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((time.monotonic() - t0) * 1000)
            else:
                errors += 1

    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:
        started = time.monotonic()
        await asyncio.gather(*(kiosk(client, started + seconds) for _ in range(clients)))
        elapsed = time.monotonic() - started
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
        "errors": errors,
        "client": "asyncio (this process)",
    }


def issue_throughput(base: str, token: str, service_id: int, *, clients: int, seconds: float) -> dict[str, Any]:
    if shutil.which("wrk"):
        data = wrk(base, clients=clients, seconds=seconds, token=token, service_id=service_id, cpus=None)
        bad = data["non2xx"] + data["connect_errors"] + data["read_errors"] + data["timeouts"]
        return {
            "rps": data["rps"],
            "p50_ms": data["p50_us"] / 1000,
            "p99_ms": data["p99_us"] / 1000,
            "errors": bad,
            "client": "wrk",
        }
    return asyncio.run(_issue_async(base, token, service_id, clients=clients, seconds=seconds))


def call_to_screen(
    running: Site,
    chain: list[ChainBranch],
    *,
    screens: int,
    calls: int,
    gap: float,
    via_nginx: bool,
    idle_seconds: float = 3.0,
    ws_client: str = "raw",
) -> list[object]:
    """Screens spread evenly over the branches of `chain` (screen g follows branch g mod N, with that branch's
    display token), calls rotating over the branches and the hosts; each screen's latency counts only its own
    branch's calls (it is sent no other branch's)."""
    hosts, nginx_url = [h.url for h in running.hosts], running.nginx_url
    n = len(chain)
    # Call k: branch k mod N, from host (k + k div N) mod H, so every branch is called from every host in turn.
    plan = [(k % n, (k + k // n) % len(hosts)) for k in range(calls)]
    warm_up = [(i % n, i) for i in range(len(hosts))]  # one call per host before measuring
    with httpx.Client(base_url=nginx_url, timeout=30) as client:
        for b, branch in enumerate(chain):
            issuer = {"Authorization": f"Bearer {branch.staff_tokens[0]}"}
            for _ in range(sum(1 for called, _ in plan + warm_up if called == b)):
                r = client.post("/api/v1/tickets", json={"service_id": branch.service_id}, headers=issuer)
                r.raise_for_status()
        staff0 = {"Authorization": f"Bearer {chain[0].staff_tokens[0]}"}
        since = client.get("/api/v1/queue", headers=staff0).json()["last_event_id"]
    bases = [nginx_url] if via_nginx else hosts
    # At least one subscriber process per base, so the screens really are spread over the hosts.
    per_process = min(PER_PROCESS, -(-screens // len(bases)))
    procs, outs, connect_s = start_subscribers(
        bases,
        [branch.display_token for branch in chain],
        screens,
        mode="ws",
        since=since,
        cpus=None,
        per_process=per_process,
        client=ws_client,
    )
    base_of = {i: bases[i % len(bases)] for i in range(len(procs))}
    screens_of = [len(range(b, screens, n)) for b in range(n)]
    time.sleep(2)
    sent: dict[int, tuple[float, str, int]] = {}  # ticket -> (sent at, host, branch)
    clients = [httpx.Client(base_url=h, timeout=30) for h in hosts]
    try:
        # Host i calls at its branch's counter i, as that counter's staff member: one person at one counter.
        def call(b: int, i: int) -> tuple[int, float]:
            t0 = time.time()
            r = clients[i].post(
                f"/api/v1/counters/{chain[b].counters[i]}/call-next",
                headers={"Authorization": f"Bearer {chain[b].staff_tokens[i]}"},
            )
            r.raise_for_status()
            return int(r.json()["id"]), t0

        for b, i in warm_up:
            call(b, i)
            time.sleep(gap)
        first_id = clients[0].get("/api/v1/queue", headers=staff0).json()["last_event_id"]
        # What the hosts spend with every screen connected and no call (background jobs, heartbeats, sign-in
        # re-checks): per second, so it can be told apart from the cost of the calls' deliveries.
        time.sleep(1.0)
        subscriber_pids = [proc.pid for proc in procs]
        idle_rate = cpu_rate(lambda: hosts_cpu_seconds(running), idle_seconds)
        cpu_before, system_before = hosts_cpu_seconds(running), hosts_cpu_seconds(running, system_only=True)
        subs_before, t_before = pids_cpu_seconds(subscriber_pids), time.monotonic()
        last_of = [0] * n  # the last measured call's ticket in each branch
        for b, i in plan:
            ticket, t0 = call(b, i)
            sent[ticket] = (t0, hosts[i], b)
            last_of[b] = ticket
            time.sleep(gap)
        # Each process waits for the last call of each of its screens' branches (in the order it took them).
        settle(procs, [last_of[k * per_process % n :] + last_of[: k * per_process % n] for k in range(len(procs))])
        cpu = hosts_cpu_seconds(running) - cpu_before
        system = hosts_cpu_seconds(running, system_only=True) - system_before
        subs_cpu = pids_cpu_seconds(subscriber_pids) - subs_before
        window = time.monotonic() - t_before
    finally:
        for c in clients:
            c.close()
    # Which process each row came from: collect() keeps the order of the processes' files.
    rows_by_process = []
    failed = 0
    for proc, out in zip(procs, outs, strict=True):
        rows, bad = collect([proc], [out])
        rows_by_process.append(rows)
        failed += bad
    all_ms: list[float] = []
    same_ms: list[float] = []
    other_ms: list[float] = []
    foreign = 0  # another branch's call at a screen: never expected
    # Every event of the measured calls that reached a screen (a call sends more than its ticket.called), as
    # in call_to_screen.py: host CPU is divided by these frames, not by the ticket.called frames alone.
    deliveries = sum(1 for rows in rows_by_process for row in rows if row[1] > first_id)
    for index, rows in enumerate(rows_by_process):
        for who, _, kind, ticket, at in rows:
            if kind != "ticket.called" or ticket not in sent:
                continue
            t0, host, branch = sent[ticket]
            if (index * per_process + who) % n != branch:
                foreign += 1
                continue
            ms = (at - t0) * 1000
            all_ms.append(ms)
            if not via_nginx:
                (same_ms if base_of[index] == host else other_ms).append(ms)
    expected = sum(screens_of[branch] for _, _, branch in sent.values())

    def fmt(values: list[float], p: float) -> str:
        return f"{pct(values, p):.1f}" if values else "-"

    return [
        "nginx" if via_nginx else "direct, A and B in turn",
        screens,
        n,
        calls,
        f"{len(all_ms)}/{expected}",
        fmt(all_ms, 50),
        fmt(all_ms, 99),
        fmt(same_ms, 99),
        fmt(other_ms, 99),
        f"{max(all_ms):.1f}" if all_ms else "-",
        f"{connect_s:.1f}",
        f"{deliveries / max(calls, 1):,.0f}",
        f"{cpu * 1e6 / max(deliveries, 1):.0f}",
        f"{idle_rate * 100:.0f}",
        f"{max(cpu - idle_rate * window, 0.0) * 1e6 / max(deliveries, 1):.0f}",
        f"{system * 100 / max(cpu, 1e-9):.0f}",
        f"{subs_cpu * 1e6 / max(deliveries, 1):.0f}",
        foreign,
        failed,
    ]


HEADERS = [
    "screens on",
    "screens",
    "branches",
    "calls",
    "delivered",
    "p50 ms",
    "p99 ms",
    "p99 ms, same host",
    "p99 ms, other host",
    "max ms",
    "connect s",
    "frames/call",
    "host CPU µs/delivery",
    "idle host CPU %",
    "host CPU µs/delivery net of idle",
    "kernel % of host CPU",
    "screens' CPU µs/delivery",
    "other branch's calls",
    "errors",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--screens", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between calls")
    parser.add_argument("--clients", type=int, default=16, help="concurrent kiosks for the issue throughput")
    parser.add_argument("--seconds", type=float, default=10, help="length of the issue throughput run")
    parser.add_argument("--workers", type=int, default=2, help="workers per host")
    parser.add_argument(
        "--branches", type=int, default=1, help="a chain: screens spread evenly over this many branches"
    )
    parser.add_argument("--via-nginx", action="store_true", help="screens connect through nginx, not to a host")
    parser.add_argument(
        "--client", choices=["raw", "websockets"], default="raw", help="the screens' WebSocket client (subscribers.py)"
    )
    args = parser.parse_args()
    if not can_make_namespaces():
        sys.exit("needs root, `ip netns` and nginx (scripts/system-deps)")
    raise_fd_limit()  # the hosts and nginx inherit it
    print(f"# two hosts x {args.workers} workers, one PostgreSQL, nginx in front — {machine()}\n")
    with database("postgres") as url, tempfile.TemporaryDirectory(prefix="wins-bench-hosts-") as tmp:
        data = seed(url, counters=2, displays=1)
        chain = seed_chain(url, data, branches=args.branches, counters=2)  # a counter per host in each branch
        nginx_connections = 2 * args.screens + 1024 if args.via_nginx else 1024
        with site(
            url,
            host_env(),
            Path(tmp),
            hosts=2,
            workers=args.workers,
            nginx_port=free_port(),
            nginx_connections=nginx_connections,
        ) as running:
            issue_throughput(running.nginx_url, data.kiosk_token, data.services["B"], clients=8, seconds=2)  # warm-up
            cpu_before = hosts_cpu_seconds(running)
            issued = issue_throughput(
                running.nginx_url, data.kiosk_token, data.services["B"], clients=args.clients, seconds=args.seconds
            )
            # Server CPU per ticket: what the figure would be on idle cores, whatever else runs on the machine.
            cpu_ms = (hosts_cpu_seconds(running) - cpu_before) * 1000 / max(issued["rps"] * args.seconds, 1)
            print(
                table(
                    [
                        "path",
                        "clients",
                        "seconds",
                        "tickets/s",
                        "p50 ms",
                        "p99 ms",
                        "host CPU ms/ticket",
                        "errors",
                        "client",
                    ],
                    [
                        [
                            "nginx -> 2 hosts",
                            args.clients,
                            args.seconds,
                            f"{issued['rps']:,.0f}",
                            f"{issued['p50_ms']:.1f}",
                            f"{issued['p99_ms']:.1f}",
                            f"{cpu_ms:.2f}",
                            issued["errors"],
                            issued["client"],
                        ]
                    ],
                ),
                "\n",
                flush=True,
            )
            row = call_to_screen(
                running,
                chain,
                screens=args.screens,
                calls=args.calls,
                gap=args.gap,
                via_nginx=args.via_nginx,
                ws_client=args.client,
            )
            print(table(HEADERS, [row]))


if __name__ == "__main__":
    main()
