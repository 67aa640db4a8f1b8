"""The event stream: WebSocket, and long-poll for clients and proxies that cannot do WebSockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, WebSocket, WebSocketDisconnect
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from wins.deps import PrincipalDep, principal_from_token
from wins.errors import WinsError
from wins.events.hub import EventHub, LoggedEvent, Waiter
from wins.logging_setup import note_user
from wins.schemas import EventBatch, TicketTracking

logger = logging.getLogger(__name__)
router = APIRouter(tags=["events"])

MAX_LONG_POLL_SECONDS = 60.0
HEARTBEAT_SECONDS = 20.0
PING = '{"type":"ping"}'


def _hub(app: Any) -> EventHub:
    hub: EventHub = app.state.hub
    return hub


@router.get("/events", response_model=EventBatch)
async def poll_events(
    request: Request,
    _: PrincipalDep,
    since: Annotated[int | None, Query(ge=0, le=2**62, description="Last event id you have; omit to start now")] = None,
    timeout: Annotated[float, Query(ge=0, le=MAX_LONG_POLL_SECONDS, description="Seconds to wait for news")] = 25.0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> Response:
    """Long-poll: events after `since`, waiting up to `timeout` seconds when there are none yet."""
    hub = _hub(request.app)
    start = hub.last_id if since is None else since
    events = await hub.wait(start, timeout=timeout, limit=limit)
    last_id = events[-1].id if events else start
    # The events are JSON already (the hub encodes each once for every subscriber): joining them gives the
    # EventBatch body without validating and re-encoding it for each of hundreds of waiting polls.
    body = '{"events":[' + ",".join(e.text for e in events) + '],"last_id":' + str(last_id) + "}"
    return Response(body, media_type="application/json")


@router.websocket("/events/ws")
async def event_socket(websocket: WebSocket, since: int | None = None, token: str | None = None) -> None:
    """Stream of events as JSON text frames. Replays everything after `since` first. Browsers pass their
    token as `?token=` (they cannot set headers on a WebSocket); other clients may use the Authorization header."""
    auth = websocket.headers.get("authorization", "")
    bearer = token or (auth[7:] if auth.lower().startswith("bearer ") else "")
    try:
        if not bearer:
            raise WinsError("missing token")
        note_user((await run_in_threadpool(principal_from_token, websocket, bearer)).label)  # for the access line
    except WinsError:
        await websocket.close(code=4401, reason="Sign in first: pass ?token=<staff or device token>.")
        return
    await websocket.accept()
    hub = _hub(websocket.app)
    hub.subscribers += 1
    position = hub.last_id if since is None or since < 0 else since
    waiter = hub.waiter()
    heartbeat = _Heartbeat(waiter)
    # Read the socket too: without it a client's close (or the server's own shutdown) goes unnoticed until
    # the next heartbeat, and a graceful stop or reload waits up to HEARTBEAT_SECONDS per open screen.
    closed = asyncio.create_task(_until_disconnect(websocket, waiter))
    # Raw ASGI messages around the hub's ready-made text: one event costs one JSON encoding for all
    # subscribers, and each subscriber only a frame write.
    send = websocket.send
    try:
        await send({"type": "websocket.send", "text": json.dumps({"type": "hello", "last_id": hub.last_id})})
        while not closed.done():
            events = hub.buffered_after(position)
            if events is None:  # further behind than the hub keeps in memory
                events = await hub.events_after(position)
            if events:
                for event in events:
                    await send({"type": "websocket.send", "text": event.text})
                position = events[-1].id
            elif heartbeat.due:
                heartbeat.due = False
                await send({"type": "websocket.send", "text": PING})
            else:
                await waiter.wait()  # straight after the check: nothing committed in between is missed
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass
    except asyncio.CancelledError:
        raise
    finally:
        heartbeat.stop()
        closed.cancel()
        hub.subscribers -= 1
        with contextlib.suppress(Exception):
            await websocket.close()


class _Heartbeat:
    """Every HEARTBEAT_SECONDS: mark a ping due and wake the stream, so a quiet screen still hears from us
    (displays drop a link that stays silent for 50 s). One timer per subscriber per period, not per event."""

    def __init__(self, waiter: Waiter) -> None:
        self.due = False
        self._waiter = waiter
        self._loop = asyncio.get_running_loop()
        self._timer = self._loop.call_later(HEARTBEAT_SECONDS, self._beat)

    def _beat(self) -> None:
        self.due = True
        self._waiter.ring()
        self._timer = self._loop.call_later(HEARTBEAT_SECONDS, self._beat)

    def stop(self) -> None:
        self._timer.cancel()


async def _until_disconnect(websocket: WebSocket, waiter: Waiter) -> None:
    try:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, ConnectionError):
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
    finally:
        waiter.ring()


class TicketUpdate(BaseModel):
    ticket: TicketTracking
    last_id: int


def _tracked(request: Request, tracking_token: str) -> tuple[int, int, dict[str, Any], int]:
    from wins.events.service import last_event_id
    from wins.tickets.views import get_by_tracking_token, tracking_view

    db = request.app.state.db
    with db.session(write=False) as session:
        # The event id first: a change committed after it is caught by the next poll, so none is missed.
        last_id = last_event_id(session)
        ticket = get_by_tracking_token(session, tracking_token)
        return ticket.id, ticket.service_id, tracking_view(session, ticket, request.app.state.settings), last_id


def _concerns(event: LoggedEvent, ticket_id: int, service_id: int) -> bool:
    """Whether an event may change what this ticket's page shows (its state, position or estimate)."""
    data = event.data or {}
    if event.type.startswith("ticket."):
        return bool(data.get("id") == ticket_id or data.get("service_id") == service_id)
    return event.type.startswith(("counter.", "service."))


@router.get("/public/tickets/{tracking_token}/updates", response_model=TicketUpdate, tags=["public"])
async def ticket_updates(
    request: Request,
    tracking_token: Annotated[str, Path(max_length=64)],
    since: Annotated[int | None, Query(ge=0, le=2**62, description="`last_id` of your previous answer")] = None,
    timeout: Annotated[float, Query(ge=0, le=MAX_LONG_POLL_SECONDS, description="Seconds to wait for news")] = 25.0,
) -> dict[str, Any]:
    """Long-poll for the customer's phone (no sign-in: the tracking token is the key). Answers the ticket as
    soon as something that may change it happens after `since` (its own state, its queue moving, counters
    opening), or after `timeout` seconds. It never reveals other tickets: only this ticket's view is sent."""
    hub = _hub(request.app)
    ticket_id, service_id, view, position = await run_in_threadpool(_tracked, request, tracking_token)
    if since is None or timeout == 0:
        return {"ticket": view, "last_id": position}
    # Replay what happened since the client's last answer (a `since` beyond the log, e.g. after a restore,
    # counts as "now").
    position = min(since, position)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (remaining := deadline - loop.time()) > 0:
        events = await hub.wait(position, timeout=remaining)
        if not events:
            break
        position = events[-1].id
        if any(_concerns(e, ticket_id, service_id) for e in events):
            break
    _, _, view, _ = await run_in_threadpool(_tracked, request, tracking_token)
    return {"ticket": view, "last_id": position}
