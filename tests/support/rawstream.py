"""A bare WebSocket client on a plain socket, to check the event stream's frames byte for byte."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from typing import Any
from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.seed import Seeded
from wins.events.frames import text_frame


class RawStream:
    """Opens `/api/v1/events/ws` with a bearer token and no extension offered; `frame()` reads one frame."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, receive_buffer: int | None = None) -> None:
        url = urlsplit(base_url)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:  # before connecting: it sets the window the client offers
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /api/v1/events/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Bearer {token}\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        head = self._until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        assert b"sec-websocket-extensions" not in head.lower(), head

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._more()
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._more()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def frame(self) -> tuple[bytes, bytes]:
        """(the whole frame as received, its payload)."""
        head = self._take(2)
        length = head[1] & 0x7F
        extra = b""
        if length == 126:
            extra = self._take(2)
            (length,) = struct.unpack("!H", extra)
        elif length == 127:
            extra = self._take(8)
            (length,) = struct.unpack("!Q", extra)
        assert not head[1] & 0x80, "a server's frames are never masked"
        payload = self._take(length)
        return head + extra + payload, payload

    def message(self) -> dict[str, Any]:
        whole, payload = self.frame()
        assert whole[0] == 0x81, f"expected one final text frame, got {whole[:2]!r}"
        data: dict[str, Any] = json.loads(payload)
        return data

    def close(self) -> None:
        self.sock.close()


def stream_writers(base_url: str) -> dict[str, float]:
    """`wins_event_streams_total` by writer, from the server's /metrics."""
    text = httpx.get(base_url + "/metrics", timeout=10).text
    return {
        sample.labels["writer"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "wins_event_streams"
        for sample in family.samples
        if sample.name == "wins_event_streams_total"
    }


def check_frames(base_url: str, seeded: Seeded, *, ping: bool = True) -> None:
    """hello; then two issued tickets' events and two calls' (the second call's `ticket.done` and `ticket.called`
    come in one wake-up, written together) byte for byte as `websockets` frames them, in order; then (`ping`:
    the server's heartbeat must be short) a ping; and the stream was written the direct way."""
    stream = RawStream(base_url, seeded.tokens["display"])

    def post(path: str, who: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {seeded.tokens[who]}"}
        r = httpx.post(base_url + path, json=body, headers=headers, timeout=10)
        assert r.status_code in (200, 201), r.text
        return r.json()

    try:
        assert stream.message()["type"] == "hello"
        tickets = [post("/api/v1/tickets", "kiosk", {"service_id": seeded.services["A"]})["id"] for _ in range(2)]
        for _ in tickets:
            post(f"/api/v1/counters/{seeded.counters['1']}/call-next", "staff")
        seen: list[tuple[int, str, int]] = []
        kinds: list[str] = []
        while True:
            whole, payload = stream.frame()
            assert whole == text_frame(payload.decode())  # one final, unmasked text frame, as websockets builds it
            message = json.loads(payload)
            kinds.append(message["type"])
            if message["type"].startswith("ticket."):
                seen.append((message["id"], message["type"], message["data"]["id"]))
            if len(seen) == 5 and (message["type"] == "ping" or not ping):
                break
        assert [s[0] for s in seen] == sorted(s[0] for s in seen), seen  # in order
        assert [(kind, ticket) for _, kind, ticket in seen] == [
            ("ticket.issued", tickets[0]),
            ("ticket.issued", tickets[1]),
            ("ticket.called", tickets[0]),
            ("ticket.done", tickets[0]),
            ("ticket.called", tickets[1]),
        ], seen
        assert kinds[-1] == ("ping" if ping else "ticket.called"), kinds
    finally:
        stream.close()
    writers = stream_writers(base_url)
    assert writers.get("direct", 0) >= 1 and not writers.get("asgi"), writers
