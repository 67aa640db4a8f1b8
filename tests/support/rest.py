"""The one REST client of the tests: the seeded tokens plus the calls every suite makes (issue, call next, act on a
ticket, read the queue). It wraps an httpx client: FastAPI's in-process TestClient, or one on a live server."""

from __future__ import annotations

from typing import Any, Protocol

import httpx
from fastapi.testclient import TestClient

from tests.support.seed import Seeded

Expect = int | tuple[int, ...]


class _Answer(Protocol):  # httpx's Response, or the one of the TestClient's httpx fork
    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...


def _check(r: _Answer, expect: Expect) -> None:
    assert r.status_code in ((expect,) if isinstance(expect, int) else expect), r.text


class Rest:
    def __init__(self, http: httpx.Client | TestClient, data: Seeded) -> None:
        self.http = http
        self.data = data

    def auth(self, who: str) -> dict[str, str]:
        """The Authorization header of a seeded user or device (admin, manager, staff, staff2, kiosk, display)."""
        return {"Authorization": f"Bearer {self.data.tokens[who]}"}

    def get(self, path: str, who: str = "admin", *, expect: Expect = 200) -> Any:
        r = self.http.get(path, headers=self.auth(who))
        _check(r, expect)
        return r.json() if r.content else None

    def post(self, path: str, who: str = "staff", json: Any = None, expect: Expect = 200) -> Any:
        r = self.http.post(path, json=json, headers=self.auth(who))
        _check(r, expect)
        return r.json() if r.content else None

    def issue(
        self, prefix: str = "A", *, who: str = "kiosk", key: str | None = None, expect: Expect = (200, 201), **body: Any
    ) -> Any:
        """Issue a ticket for service `prefix` (200 is a replayed Idempotency-Key)."""
        headers = self.auth(who)
        if key:
            headers["Idempotency-Key"] = key
        r = self.http.post("/api/v1/tickets", json={"service_id": self.data.services[prefix], **body}, headers=headers)
        _check(r, expect)
        return r.json()

    def call_next(self, counter: str = "1", who: str = "staff") -> Any:
        """The ticket counter `counter` called, or None when nobody waits (204)."""
        r = self.http.post(f"/api/v1/counters/{self.data.counters[counter]}/call-next", headers=self.auth(who))
        _check(r, (200, 204))
        return r.json() if r.status_code == 200 else None

    def act(self, ticket_id: int, action: str, who: str = "staff", *, expect: Expect = 200) -> Any:
        """recall, start, complete, no-show, requeue or cancel a ticket."""
        return self.post(f"/api/v1/tickets/{ticket_id}/{action}", who, expect=expect)

    def queue(self, who: str = "manager") -> Any:
        return self.get("/api/v1/queue", who)

    def last_event_id(self) -> int:
        return int(self.http.get("/health").json()["last_event_id"])
