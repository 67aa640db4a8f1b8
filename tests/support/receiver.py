"""A real HTTP server in the test process that records what it is sent (a webhook receiver, a push service).

`answer` decides each reply (status code), so a test can make it fail for a while; waits are on a condition
variable, never on sleeps."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered
    method: str = "POST"


class Receiver:
    def __init__(self, answer: Callable[[Received, int], int] | None = None) -> None:
        self.answer = answer or (lambda _r, _n: 200)
        self.requests: list[Received] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, 0, self.command)
                with receiver._cond:
                    got.status = receiver.answer(got, len(receiver.requests))
                    receiver.requests.append(got)
                    receiver._cond.notify_all()
                self.send_response(got.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST  # a GET has no body: Content-Length is absent, so nothing is read

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 20.0) -> list[Received]:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.requests), timeout=timeout):
                raise AssertionError(f"receiver: condition not met in {timeout}s; got {len(self.requests)} requests")
            return list(self.requests)

    def snapshot(self) -> list[Received]:
        with self._cond:
            return list(self.requests)
