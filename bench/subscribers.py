"""Many event-stream subscribers in one asyncio process (run by call_to_screen.py and soak.py, not directly).

    python bench/subscribers.py --base http://127.0.0.1:8000 --token T --n 1000 --mode ws|poll --out result.json
        [--client raw|websockets]

Prints "ready" once every subscriber is connected (WebSocket: got its hello), then records, for every event,
(subscriber, event id, type, ticket id, wall-clock receive time). A line "wait T" on stdin is answered with
"caught up" once every subscriber has ticket T's `ticket.called`. Stops when stdin closes, writes --out.
Several `--token` (displays of several branches): subscriber i signs in with the (i mod k)-th, and "wait T1,…,Tk"
waits for ticket Tj at the subscribers of the j-th token (0: none).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
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


class RawSocket(asyncio.Protocol):
    """A bare WebSocket client for one screen: the opening handshake, then text frames parsed straight from the
    socket, pings answered. Per frame it costs a fraction of the `websockets` package's client (py-spy: that
    client's framing, queues and tasks were ~30 µs of CPU per frame, as much as the server's), which matters
    when thousands of screens share the server's CPUs. It offers no extension (no permessage-deflate)."""

    def __init__(self, who: int, request: bytes, rec: Recorder, on_hello: Any) -> None:
        self.who, self.request, self.rec, self.on_hello = who, request, rec, on_hello
        self.buffer = bytearray()
        self.opened = False
        self.fragments: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_exception(exc or ConnectionError("the server closed the socket"))

    def send_frame(self, opcode: int, payload: bytes) -> None:
        # Client frames are masked (RFC 6455 5.3); payloads here are a ping's or a close's few bytes.
        assert self.transport is not None and len(payload) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.opened:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[: buffer.find(b"\r\n")])
            if b" 101 " not in status:
                raise RuntimeError(f"handshake answered {status!r}")
            del buffer[: end + 4]
            self.opened = True
        start = 0
        size = len(buffer)
        while size - start >= 2:
            first, second = buffer[start], buffer[start + 1]
            length, head = second & 0x7F, 2
            if length == 126:
                if size - start < 4:
                    break
                length, head = int.from_bytes(buffer[start + 2 : start + 4], "big"), 4
            elif length == 127:
                if size - start < 10:
                    break
                length, head = int.from_bytes(buffer[start + 2 : start + 10], "big"), 10
            if second & 0x80:  # a masked frame: servers do not send them
                raise RuntimeError("masked frame from the server")
            if size - start < head + length:
                break
            payload = bytes(buffer[start + head : start + head + length])
            start += head + length
            self.frame(first & 0x80, first & 0x0F, payload)
        del buffer[:start]

    def frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode in (0x0, 0x1):  # continuation, text
            self.fragments.append(payload)
            if fin:
                message = json.loads(b"".join(self.fragments))
                self.fragments = []
                kind = message.get("type")
                if kind == "hello":
                    self.on_hello()
                elif kind != "ping":
                    self.rec.add(self.who, message)
        elif opcode == 0x9:  # ping: answer at once, or uvicorn drops the socket
            self.send_frame(0xA, payload)
        elif opcode == 0x8:  # close: answer it; the server then closes the TCP connection
            self.send_frame(0x8, payload[:2])


async def raw_subscriber(
    who: int, url: str, headers: dict[str, str], rec: Recorder, ready: asyncio.Event, total: int
) -> None:
    target = httpx.URL(url)
    host, port = target.host, target.port or 80
    path = target.raw_path.decode()
    key = base64.b64encode(os.urandom(16)).decode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    ).encode()

    def on_hello() -> None:
        rec.ready += 1
        if rec.ready == total:
            ready.set()

    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(lambda: RawSocket(who, request, rec, on_hello), host, port)
    try:
        await protocol.closed
    finally:
        transport.close()


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


async def caught_up(rec: Recorder, n: int, tickets: list[int], *, timeout: float) -> str:
    """Wait until every one of the `n` subscribers has recorded the `ticket.called` of its ticket (subscriber i:
    tickets[i mod len(tickets)], 0 for none); "caught up", or how many had after `timeout` seconds."""
    k = len(tickets)
    expect = {who for who in range(n) if tickets[who % k]}
    seen: set[int] = set()
    scanned = 0
    deadline = time.monotonic() + timeout
    while True:
        rows = rec.rows
        seen.update(
            who for who, _, kind, called, _ in rows[scanned:] if kind == "ticket.called" and called == tickets[who % k]
        )
        scanned = len(rows)
        if len(seen) >= len(expect):
            return "caught up"
        if time.monotonic() > deadline:
            return f"timeout {len(seen)}/{len(expect)}"
        await asyncio.sleep(0.05)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--token", required=True, action="append", help="repeat: subscribers take them in turn")
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--mode", choices=["ws", "poll"], default="ws")
    parser.add_argument(
        "--client",
        choices=["raw", "websockets"],
        default="raw",
        help="WebSocket client: a bare one (cheap), or the websockets package (offers permessage-deflate)",
    )
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
        subscriber = raw_subscriber if args.client == "raw" else ws_subscriber
        for i in range(args.n):
            headers = {"Authorization": f"Bearer {args.token[i % len(args.token)]}"}
            tasks.append(asyncio.create_task(subscriber(i, url, headers, rec, ready, args.n)))
            if i % 50 == 49:
                await asyncio.sleep(0.02)  # do not flood the accept queue
    else:
        since = args.since if args.since is not None else 0
        for i in range(args.n):
            token = args.token[i % len(args.token)]
            tasks.append(asyncio.create_task(poll_subscriber(i, args.base, token, since, rec, ready, args.n)))
    await ready.wait()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):  # until the parent closes our stdin
        # "wait T": answer once every subscriber has ticket T's `ticket.called` (the parent's last call), so the
        # parent stops measuring when the fan-out is over, not after a guess.
        targets = [int(t) for t in line.split()[1].split(",")]
        print(await caught_up(rec, args.n, targets, timeout=120), flush=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    failed = sum(1 for t in tasks if t.done() and not t.cancelled() and t.exception() is not None)
    with open(args.out, "w") as f:
        json.dump({"rows": rec.rows, "failed": failed}, f)


if __name__ == "__main__":
    asyncio.run(main())
