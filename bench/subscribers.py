"""Many event-stream subscribers in one asyncio process (run by call_to_screen.py and soak.py, not directly).

    python bench/subscribers.py --base http://127.0.0.1:8000 --token T --n 1000 --mode ws|poll --out result.json

Prints "ready" once every subscriber is connected (WebSocket: got its hello), then records, for every event,
(subscriber, event id, type, ticket id, wall-clock receive time). Stops when stdin closes, writes --out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from typing import Any

import httpx
import websockets


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Recorder:
    def __init__(self) -> None:
        self.rows: list[tuple[int, int, str, int | None, float]] = []
        self.ready = 0

    def add(self, who: int, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        self.rows.append((who, event["id"], event["type"], data.get("id"), time.time()))


async def ws_subscriber(
    who: int, url: str, headers: dict[str, str], rec: Recorder, ready: asyncio.Event, total: int
) -> None:
    # The token in the Authorization header: the server refuses tokens in the URL (they end up in logs).
    async with websockets.connect(
        url, additional_headers=headers, max_size=None, open_timeout=60, ping_interval=None
    ) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello"
        rec.ready += 1
        if rec.ready == total:
            ready.set()
        async for message in ws:
            event = json.loads(message)
            if event.get("type") != "ping":
                rec.add(who, event)


async def poll_subscriber(
    who: int, base: str, token: str, since: int, rec: Recorder, ready: asyncio.Event, total: int
) -> None:
    # A bare HTTP/1.1 keep-alive connection per subscriber, not httpx: httpx's shared pool scans every one of
    # its connections for each request and response, so with 200 long-polls the client itself saturated its
    # core and the figures measured httpx, not the server (py-spy, 2026-11-24).
    url = httpx.URL(base)
    host, port = url.host, url.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    rec.ready += 1
    if rec.ready == total:
        ready.set()
    head = f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
    try:
        while True:
            writer.write(f"GET /api/v1/events?since={since}&timeout=25 HTTP/1.1\r\n{head}".encode())
            status, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            if " 200 " not in status:
                raise RuntimeError(f"long-poll answered {status!r}")
            headers = dict(line.lower().split(": ", 1) for line in lines if ": " in line)
            body = json.loads(await reader.readexactly(int(headers["content-length"])))
            for event in body["events"]:
                rec.add(who, event)
            since = body["last_id"]
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--mode", choices=["ws", "poll"], default="ws")
    parser.add_argument("--since", type=int, default=None)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    raise_fd_limit()
    rec = Recorder()
    ready = asyncio.Event()
    tasks = []
    if args.mode == "ws":
        url = args.base.replace("http://", "ws://") + "/api/v1/events/ws"
        if args.since is not None:
            url += f"?since={args.since}"
        headers = {"Authorization": f"Bearer {args.token}"}
        for i in range(args.n):
            tasks.append(asyncio.create_task(ws_subscriber(i, url, headers, rec, ready, args.n)))
            if i % 50 == 49:
                await asyncio.sleep(0.02)  # do not flood the accept queue
    else:
        since = args.since if args.since is not None else 0
        for i in range(args.n):
            tasks.append(asyncio.create_task(poll_subscriber(i, args.base, args.token, since, rec, ready, args.n)))
    await ready.wait()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    failed = sum(1 for t in tasks if t.done() and not t.cancelled() and t.exception() is not None)
    with open(args.out, "w") as f:
        json.dump({"rows": rec.rows, "failed": failed}, f)


if __name__ == "__main__":
    asyncio.run(main())
