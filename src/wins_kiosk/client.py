"""The kiosk's view of the WINS server: its public REST API and the long-poll event stream. No Kivy here.

Every call has a short timeout and ends in a typed result or one of two exceptions the kiosk acts on:
`ServerUnavailable` (try again later, show the "ask at the desk" screen) and `Refused` (the server said no).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

logger = logging.getLogger(__name__)


class KioskClientError(Exception):
    """Base of the client's errors."""


class ServerUnavailable(KioskClientError):
    """The server cannot be reached, timed out, or answered 5xx/429: retry later."""


class Refused(KioskClientError):
    """The server understood and said no (4xx), e.g. an inactive service or a revoked token."""

    def __init__(self, message: str, *, status_code: int, code: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code


class Unauthorized(Refused):
    """The device token is wrong or revoked: only an operator can fix this."""


@dataclass(frozen=True)
class Service:
    id: int
    name: str
    prefix: str
    colour: str
    sort_order: int = 0
    # From its opening hours (server side): whether it takes tickets now, and if not, when (local ISO time).
    open_now: bool = True
    opens_at: str | None = None
    # False: staff stopped it issuing (issue 13). The kiosk names it, marked "not issuing", but offers no button.
    active: bool = True


@dataclass(frozen=True)
class BranchInfo:
    name: str
    timezone: str
    languages: list[str]
    slip_text: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class IssuedTicket:
    id: int
    number: str
    service_id: int
    service_name: str
    people_ahead: int
    estimated_wait_seconds: int
    estimated_wait_range: tuple[int, int]
    tracking_url: str
    issued_at: datetime
    language: str | None
    estimated_wait_text: str = ""  # the server's words for the range ("5 to 12 min"), in the ticket's language
    # True when the server answered 200: this Idempotency-Key had already issued this ticket.
    replayed: bool = False


@dataclass(frozen=True)
class NowServing:
    number: str
    counter_name: str
    service_name: str | None
    status: str


@dataclass(frozen=True)
class QueueSnapshot:
    now_serving: list[NowServing]
    last_event_id: int


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class EventBatch:
    events: list[Event]
    last_id: int


class KioskClient:
    """One kiosk's HTTP client. Thread-safe enough for one caller at a time; give each thread its own."""

    def __init__(
        self, base_url: str, token: str, *, timeout: float = 5.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # A short connect timeout: a dead server must show the "unavailable" screen fast.
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "wins-kiosk"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KioskClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any) -> httpx.Response:
        try:
            if timeout is not None:
                kwargs["timeout"] = httpx.Timeout(timeout, connect=min(self.timeout, 3.0))
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServerUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise ServerUnavailable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            message, code = _error_detail(response)
            cls = Unauthorized if response.status_code == 401 else Refused
            raise cls(message, status_code=response.status_code, code=code)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise ServerUnavailable(f"{method} {path}: the answer is not JSON") from exc

    def health(self) -> bool:
        """True when the server and its database answer."""
        try:
            self._request("GET", "/health")
        except KioskClientError:
            return False
        return True

    def branch(self) -> BranchInfo:
        data = self._json("GET", "/api/v1/branch")
        settings = data.get("settings") or {}
        return BranchInfo(
            name=str(data["name"]),
            timezone=str(data.get("timezone") or "UTC"),
            languages=[str(code) for code in settings.get("kiosk_languages") or []],
            slip_text=str(settings.get("slip_text") or ""),
            settings=settings,
        )

    def services(self) -> list[Service]:
        """The services in display order: those issuing and those stopped (`active=False`); archived ones are
        left out by the server (and here too, should an older server send them)."""
        rows = self._json("GET", "/api/v1/services")
        return [
            Service(
                id=int(r["id"]),
                name=str(r["name"]),
                prefix=str(r["prefix"]),
                colour=str(r["colour"]),
                sort_order=int(r.get("sort_order", 0)),
                open_now=bool(r.get("open_now", True)),
                opens_at=str(r["opens_at"]) if r.get("opens_at") else None,
                active=bool(r.get("active", True)),
            )
            for r in rows
            if not r.get("archived")
        ]

    def issue_ticket(
        self, service_id: int, *, language: str | None, idempotency_key: str, priority_category: str | None = None
    ) -> IssuedTicket:
        """Issue a ticket. Calling again with the same key returns the same ticket (`replayed=True`).
        `priority_category` (a key the kiosk setup offered) makes it a priority ticket of that category: the
        server records the category, so staff screens and reports show why it was given priority."""
        body: dict[str, Any] = {"service_id": service_id, "language": language}
        if priority_category is not None:
            body["priority_category"] = priority_category
        response = self._request("POST", "/api/v1/tickets", json=body, headers={"Idempotency-Key": idempotency_key})
        data = response.json()
        low, high = (list(data.get("estimated_wait_range") or [0, 0]) + [0, 0])[:2]
        return IssuedTicket(
            id=int(data["id"]),
            number=str(data["number"]),
            service_id=int(data["service_id"]),
            service_name=str(data.get("service_name") or ""),
            people_ahead=int(data["people_ahead"]),
            estimated_wait_seconds=int(data["estimated_wait_seconds"]),
            estimated_wait_range=(int(low), int(high)),
            estimated_wait_text=str(data.get("estimated_wait_text") or ""),
            tracking_url=str(data["tracking_url"]),
            issued_at=datetime.fromisoformat(data["issued_at"]),
            language=data.get("language"),
            replayed=response.status_code == 200,
        )

    def queue(self) -> QueueSnapshot:
        """Who is being served now (one entry per counter holding a ticket, most recent call first)."""
        data = self._json("GET", "/api/v1/queue")
        held: list[tuple[str, NowServing]] = []
        for counter in data.get("counters", []):
            ticket = counter.get("ticket")
            if ticket:
                held.append(
                    (
                        str(ticket.get("called_at") or ""),
                        NowServing(
                            number=str(ticket["number"]),
                            counter_name=str(counter["name"]),
                            service_name=ticket.get("service_name"),
                            status=str(ticket["status"]),
                        ),
                    )
                )
        held.sort(key=lambda item: item[0], reverse=True)
        return QueueSnapshot(now_serving=[item for _, item in held], last_event_id=int(data.get("last_event_id") or 0))

    def report_status(self, status: dict[str, Any]) -> None:
        """Tell the server this kiosk's health (printer state …); staff screens show it."""
        self._request("POST", "/api/v1/devices/me/status", json={"status": status})

    def request_help(self) -> None:
        """Ask for a member of staff to come to this kiosk (staff screens raise an alert)."""
        self._request("POST", "/api/v1/devices/me/help")

    def kiosk_setup(self) -> dict[str, Any]:
        """What the server tells this kiosk beyond the branch: the priority categories it may offer."""
        data = self._json("GET", "/api/v1/devices/me/kiosk")
        return data if isinstance(data, dict) else {}

    def events(self, since: int | None, *, wait: float = 25.0) -> EventBatch:
        """Long-poll: the events after `since`, waiting up to `wait` seconds for news."""
        params: dict[str, Any] = {"timeout": wait}
        if since is not None:
            params["since"] = since
        data = self._json("GET", "/api/v1/events", params=params, timeout=wait + self.timeout)
        events = [
            Event(id=int(e["id"]), type=str(e["type"]), data=dict(e.get("data") or {})) for e in data.get("events", [])
        ]
        return EventBatch(events=events, last_id=int(data["last_id"]))


def _error_detail(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}", ""
    detail = body.get("detail") if isinstance(body, dict) else None
    code = str(body.get("code", "")) if isinstance(body, dict) else ""
    return (detail if isinstance(detail, str) else f"HTTP {response.status_code}: {detail}"), code


class EventFollower:
    """Follows the event stream on a background thread (long-poll), calling `on_events` with each batch and
    `on_connection(bool)` when the stream is lost or back. It resumes from the last id it saw, so a
    reconnect misses nothing. Callbacks run on this thread: hop to the UI thread yourself."""

    def __init__(
        self,
        make_client: Callable[[], KioskClient],
        *,
        on_events: Callable[[list[Event]], None],
        on_connection: Callable[[bool], None] | None = None,
        wait: float = 20.0,
        retry_seconds: float = 2.0,
    ) -> None:
        self._make_client = make_client
        self._on_events = on_events
        self._on_connection = on_connection or (lambda _ok: None)
        self._wait = wait
        self._retry = retry_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.since: int | None = None

    def start(self, since: int | None = None) -> None:
        self.since = since
        self._thread = threading.Thread(target=self._run, name="wins-kiosk-events", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        connected: bool | None = None
        with self._make_client() as client:
            while not self._stop.is_set():
                try:
                    batch = client.events(self.since, wait=self._wait)
                except KioskClientError as exc:
                    if connected is not False:
                        logger.warning("event stream lost: %s", exc)
                        connected = False
                        self._on_connection(False)
                    self._stop.wait(self._retry)
                    continue
                if connected is not True:
                    connected = True
                    self._on_connection(True)
                self.since = batch.last_id
                if batch.events:
                    try:
                        self._on_events(batch.events)
                    except Exception:  # a bug in a handler must not kill the stream
                        logger.exception("event handler failed")
