"""The smallest server that does what an express-lane tap does on PostgreSQL, for bench/worker_count.py.

A plain ASGI app: it reads the request body, runs one autocommit INSERT … RETURNING on a psycopg
AsyncConnection taken from a small per-process pool (as WINS's lane does, wins.tickets.express), and answers
201 with a small JSON body. No routing, no middleware, no event log, no hub, no follower. Whatever it loses
going from 2 to 4 worker processes on the same CPUs is what the processes cost, not WINS.

    BASELINE_DATABASE_URL=postgresql://... uvicorn bench.baseline_asgi:app --workers 4 --loop uvloop --http httptools
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import psycopg

CONNECTIONS = int(os.environ.get("BASELINE_CONNECTIONS", "4"))
_idle: asyncio.Queue[psycopg.AsyncConnection[Any]] | None = None


async def _open() -> None:
    global _idle
    _idle = asyncio.Queue()
    for _ in range(CONNECTIONS):
        conn = await psycopg.AsyncConnection.connect(os.environ["BASELINE_DATABASE_URL"], autocommit=True)
        _idle.put_nowait(conn)


async def _insert(body: bytes) -> int:
    assert _idle is not None
    conn = await _idle.get()
    try:
        cur = await conn.execute("INSERT INTO baseline_tap (body) VALUES (%s) RETURNING id", (body.decode(),))
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])
    finally:
        _idle.put_nowait(conn)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await _open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/health":
        status, answer = 200, b'{"status": "ok"}'
    else:
        status, answer = 201, json.dumps({"id": await _insert(body), "number": "A001"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer})
