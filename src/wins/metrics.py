"""`GET /metrics` in Prometheus' text format.

Nothing is counted on the ticket path: queue figures (issued, called, served today, waiting now, oldest wait)
and printer states are read from the database when Prometheus scrapes, a handful of indexed queries. Per
request there is one histogram observation (latency) and, per WebSocket, one gauge step and one counter step
(how its frames are written).

Several worker processes (gunicorn): deploy/gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before the workers
start, prometheus-client then keeps each process' histogram and gauge in files there, and a scrape answered
by any worker adds them all up. The database figures are the same whichever worker answers.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import and_, func, select

if TYPE_CHECKING:
    from fastapi import FastAPI

    from wins.db import Database
    from wins.events.hub import EventHub

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REQUEST_SECONDS = Histogram(
    "wins_http_request_duration_seconds",
    "Time to answer HTTP requests, by kind (issue = a kiosk tap; stream = long-polls, which wait on purpose).",
    ["kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
SCREENS = Gauge(
    "wins_websocket_connections",
    "Open WebSocket event streams (display boards, staff pages, kiosks).",
    multiprocess_mode="livesum",
)
STREAM_WRITERS = Counter(
    "wins_event_streams",
    "Event streams opened, by how their frames are written: direct (each event's frame built once, its bytes "
    "written to every socket, wins.events.frames) or asgi (the server's ordinary send, e.g. another server).",
    ["writer"],
)
_KINDS = ("issue", "stream", "api", "display", "tracking", "static", "ops", "web")
_OBSERVE = {kind: REQUEST_SECONDS.labels(kind).observe for kind in _KINDS}


def _kind(method: str, path: str) -> str:
    if path.startswith("/api/"):
        if path == "/api/v1/tickets" and method == "POST":
            return "issue"
        if path.startswith("/api/v1/events") or path.endswith("/updates"):
            return "stream"
        return "api"
    if path.startswith("/static/"):
        return "static"
    if path.startswith("/display"):
        return "display"
    if path.startswith("/t/"):
        return "tracking"
    if path in ("/health", "/metrics"):
        return "ops"
    return "web"


def observe_request(method: str, path: str, status: int, seconds: float) -> None:  # noqa: ARG001
    if method != "WS":  # a WebSocket's "time" is how long the screen stayed connected
        _OBSERVE[_kind(method, path)](seconds)


def screen_connected(delta: int) -> None:
    SCREENS.inc(delta)


def stream_opened(*, direct: bool) -> None:
    STREAM_WRITERS.labels("direct" if direct else "asgi").inc()


class QueueCollector(Collector):
    """Figures read from the database and the event hub at scrape time."""

    def __init__(self, db: Database, hub: EventHub) -> None:
        self.db = db
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        from wins.branches.models import Branch
        from wins.devices.models import Device
        from wins.events.models import Event
        from wins.services.models import Service
        from wins.tickets.models import Ticket, TicketSequence

        labels = ["service", "service_name"]
        issued = GaugeMetricFamily("wins_tickets_issued_today", "Tickets issued today, by service.", labels=labels)
        called = GaugeMetricFamily(
            "wins_tickets_called_today", "Tickets of today called at least once, by service.", labels=labels
        )
        served = GaugeMetricFamily("wins_tickets_served_today", "Tickets of today served (done).", labels=labels)
        waiting = GaugeMetricFamily("wins_tickets_waiting", "Tickets waiting now, by service.", labels=labels)
        oldest = GaugeMetricFamily(
            "wins_oldest_wait_seconds", "How long the longest-waiting ticket has waited, by service.", labels=labels
        )
        printers = GaugeMetricFamily(
            "wins_printer_state", "1 for the state each kiosk's printer last reported.", labels=["device", "state"]
        )
        lag = GaugeMetricFamily(
            "wins_event_lag", "Events committed to the database that this process' event hub has not read yet."
        )
        now = time.time()
        with self.db.session(write=False) as session:
            rows = session.execute(select(Service.id, Service.prefix, Service.name))
            services = {service_id: (prefix, name) for service_id, prefix, name in rows}
            today = session.scalar(select(func.max(TicketSequence.business_day)))
            counts: dict[str, dict[int, float]] = {"issued": {}, "called": {}, "served": {}, "waiting": {}}
            for service_id, total in session.execute(
                select(TicketSequence.service_id, func.sum(TicketSequence.waiting)).group_by(TicketSequence.service_id)
            ):
                counts["waiting"][service_id] = total or 0
            if today is not None:
                for service_id, last_seq in session.execute(
                    select(TicketSequence.service_id, TicketSequence.last_seq).where(
                        TicketSequence.business_day == today
                    )
                ):
                    counts["issued"][service_id] = last_seq
                # Branch ids in the condition let the (branch_id, business_day) index find today's tickets.
                branch_ids = list(session.scalars(select(Branch.id)))
                day = and_(Ticket.branch_id.in_(branch_ids), Ticket.business_day == today)
                for name, condition in (
                    ("called", Ticket.first_called_at.is_not(None)),
                    ("served", Ticket.status == "done"),
                ):
                    for service_id, total in session.execute(
                        select(Ticket.service_id, func.count()).where(day, condition).group_by(Ticket.service_id)
                    ):
                        counts[name][service_id] = total
            oldest_at = dict(
                session.execute(
                    select(Ticket.service_id, func.min(Ticket.queue_at))
                    .where(Ticket.status == "waiting")
                    .group_by(Ticket.service_id)
                ).all()
            )
            newest_event = session.scalar(select(func.max(Event.id))) or 0
            kiosks = session.execute(select(Device.name, Device.status).where(Device.revoked_at.is_(None))).all()
        for service_id, (prefix, name) in sorted(services.items()):
            values = [prefix, name]
            issued.add_metric(values, counts["issued"].get(service_id, 0))
            called.add_metric(values, counts["called"].get(service_id, 0))
            served.add_metric(values, counts["served"].get(service_id, 0))
            waiting.add_metric(values, counts["waiting"].get(service_id, 0))
            since = oldest_at.get(service_id)
            oldest.add_metric(values, max(0.0, now - since.timestamp()) if since is not None else 0.0)
        for name, status in kiosks:
            state = (status or {}).get("printer") if isinstance(status, dict) else None
            if isinstance(state, str) and state:
                printers.add_metric([name, state.lower()[:32]], 1)
        lag.add_metric([], max(0, newest_event - self.hub.last_id))
        yield from (issued, called, served, waiting, oldest, printers, lag)


def _allowed(settings: Any, client: str | None, authorization: str) -> bool:
    token: str = settings.metrics_token
    if token and not secrets.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        return False
    networks = [ipaddress.ip_network(n.strip(), strict=False) for n in settings.metrics_allow.split(",") if n.strip()]
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(client or "")
    except ValueError:
        return False
    return any(address in network for network in networks)


def install(app: FastAPI) -> None:
    """Add `GET /metrics` (not in the API schema)."""
    queue = QueueCollector(app.state.db, app.state.hub)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        client = request.client.host if request.client else None
        if not _allowed(request.app.state.settings, client, request.headers.get("authorization", "")):
            return Response(
                "Not allowed: see WINS_METRICS_TOKEN and WINS_METRICS_ALLOW.\n",
                status_code=403,
                media_type="text/plain",
            )
        registry = CollectorRegistry()
        if MULTIPROCESS:
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # every worker's histogram and gauge, from their files
        registry.register(queue)
        body = generate_latest(registry)
        if not MULTIPROCESS:
            body = generate_latest(REGISTRY) + body
        return Response(body, media_type=CONTENT_TYPE_LATEST)
