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

from wins.auth import Principal
from wins.db import Database
from wins.deps import PrincipalDep, principal_from_token, with_branch, write_transaction
from wins.errors import NotAuthenticated, TooManyAttempts, WinsError
from wins.events.access import (
    CLOSE_FORBIDDEN,
    CLOSE_SIGNED_OUT,
    CLOSE_TOKEN_IN_URL,
    StreamAccess,
    StreamRefused,
    StreamScope,
    ends,
    issue_stream_ticket,
    names,
    redeem_stream_ticket,
    stream_scope,
)
from wins.events.frames import FrameWriter
from wins.events.hub import EventHub, LoggedEvent, Waiter
from wins.logging_setup import note_user
from wins.metrics import stream_opened
from wins.schemas import EventBatch, TicketTracking

logger = logging.getLogger(__name__)
router = APIRouter(tags=["events"])

MAX_LONG_POLL_SECONDS = 60.0
HEARTBEAT_SECONDS = 20.0
PING = '{"type":"ping"}'


def _hub(app: Any) -> EventHub:
    hub: EventHub = app.state.hub
    return hub


def heartbeat_seconds(app: Any) -> float:
    """Seconds between pings on a quiet socket (WINS_STREAM_HEARTBEAT_SECONDS, else HEARTBEAT_SECONDS)."""
    configured: float | None = app.state.settings.stream_heartbeat_seconds
    return configured or HEARTBEAT_SECONDS


def _access(app: Any) -> StreamAccess:
    access: StreamAccess | None = getattr(app.state, "stream_access", None)
    if access is None:  # one per app, so one per process: the limits are per process
        access = app.state.stream_access = StreamAccess(app.state.db, app.state.settings)
        _hub(app).internal_listeners.append(access.forget)
    return access


class StreamTicket(BaseModel):
    ticket: str
    expires_in: int


@router.post("/events/tickets", response_model=StreamTicket, status_code=201)
async def create_stream_ticket(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    """A one-time connect ticket for the event WebSocket: open `/api/v1/events/ws?ticket=…` with it within
    `expires_in` seconds. For browsers, which cannot send an Authorization header on a WebSocket (a signed-in
    page calls this with its session cookie and X-CSRF-Token header). The ticket works once, only to open the
    stream; it is refused everywhere else."""
    db: Database = request.app.state.db
    seconds = request.app.state.settings.stream_ticket_seconds
    ticket = await write_transaction(db, lambda session: issue_stream_ticket(session, principal, seconds=seconds))
    return {"ticket": ticket, "expires_in": seconds}


@router.get("/events", response_model=EventBatch)
async def poll_events(
    request: Request,
    principal: PrincipalDep,
    since: Annotated[int | None, Query(ge=0, le=2**62, description="Last event id you have; omit to start now")] = None,
    timeout: Annotated[float, Query(ge=0, le=MAX_LONG_POLL_SECONDS, description="Seconds to wait for news")] = 25.0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> Response:
    """Long-poll: events after `since`, waiting up to `timeout` seconds when there are none yet. Answers 401 as
    soon as the caller's sign-in ends while it waits, and 429 when the caller already has too many waiting."""
    hub = _hub(request.app)
    access = _access(request.app)
    scope = stream_scope(principal, request.query_params.get("branch"))
    try:
        access.polls.acquire(principal.key)
    except StreamRefused as exc:
        raise TooManyAttempts(exc.reason) from None
    try:
        start = hub.last_id if since is None else since
        events, last_id = await _poll(hub, access, principal, scope, start, timeout=timeout, limit=limit)
    finally:
        access.polls.release(principal.key)
    # The events are JSON already (the hub encodes each once for every subscriber): joining them gives the
    # EventBatch body without validating and re-encoding it for each of hundreds of waiting polls.
    sent = ",".join(e.text for e in events if scope.shows(e))
    body = '{"events":[' + sent + '],"last_id":' + str(last_id) + "}"
    return Response(body, media_type="application/json")


async def _poll(
    hub: EventHub,
    access: StreamAccess,
    principal: Principal,
    scope: StreamScope,
    start: int,
    *,
    timeout: float,
    limit: int,
) -> tuple[list[LoggedEvent], int]:
    """Wait for events in slices of the re-check period, re-checking the sign-in between slices and at once on
    an `auth.ended` event that names it. Events only the server reads do not end the wait. Woken only by what
    the scope's branch may show (EventHub.wait_scoped). Returns the events and the position they reach (past
    other branches' events)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    position = start
    seen: list[LoggedEvent] = []
    while True:
        remaining = deadline - loop.time()
        events, position = await hub.wait_scoped(
            position, scope.branch_id, timeout=min(max(remaining, 0), access.recheck_seconds), limit=limit
        )
        for event in events:
            if event.internal and names(principal, event.data):
                if ends(principal, event.data) or not await access.still_valid(principal, fresh=True):
                    raise NotAuthenticated("Your sign-in has ended (signed out or revoked).")
        seen += events
        if any(scope.shows(e) for e in seen) or len(seen) >= limit or deadline - loop.time() <= 0:
            return seen, position
        if not events and not await access.still_valid(principal):
            raise NotAuthenticated("Your sign-in has ended (signed out or revoked).")


@router.websocket("/events/ws")
async def event_socket(
    websocket: WebSocket, since: int | None = None, ticket: str | None = None, token: str | None = None
) -> None:
    """Stream of events as JSON text frames. Replays everything after `since` first. Sign in with the
    Authorization header, or (browsers, which cannot set it) with `?ticket=` from `POST /api/v1/events/tickets`.
    Close codes: 4400 a token in the URL, 4401 signed out or revoked (also mid-stream), 4403 not allowed,
    4429 too many sockets for this sign-in, 1013 server full (retry later). See docs/security.md."""
    # Accept first: a socket closed before it is accepted reaches the browser as a bare failure (1006), with
    # no code or reason to tell "signed out" from "network down".
    await websocket.accept()
    access = _access(websocket.app)
    try:
        principal = await _socket_principal(websocket, ticket=ticket, token=token)
        note_user(principal.label)  # for the access line
        try:
            principal = with_branch(websocket, principal)
            scope = stream_scope(principal, websocket.query_params.get("branch"))
        except WinsError as exc:
            raise StreamRefused(CLOSE_FORBIDDEN, exc.message[:120]) from None
        # Checked again: the token may come from the principal cache, up to a few seconds behind a revoke, and
        # the `auth.ended` event of that revoke is already behind this new socket's starting point. (The answer
        # is shared by a thousand sockets of one display, and forgotten on any such event, see `forget`.)
        if not await access.still_valid(principal):
            raise StreamRefused(CLOSE_SIGNED_OUT, "Your sign-in has ended (signed out or revoked).")
        access.sockets.acquire(principal.key)
    except StreamRefused as exc:
        with contextlib.suppress(Exception):
            await websocket.close(code=exc.code, reason=exc.reason)
        return
    try:
        # In a task of its own: this coroutine sits under some twenty frames of server, middleware and routing,
        # and every wake-up of a stream (each event, for every screen) would resume and suspend all of them;
        # a task resumes only its own two. (py-spy: a fifth of a worker's CPU went there, docs/performance.md
        # §3.) Awaiting the task hands on its errors, and cancelling this request cancels the task.
        await asyncio.create_task(_stream(websocket, access, principal, scope, since), name="wins-event-stream")
    finally:
        access.sockets.release(principal.key)


async def _socket_principal(websocket: WebSocket, *, ticket: str | None, token: str | None) -> Principal:
    if token is not None:
        raise StreamRefused(
            CLOSE_TOKEN_IN_URL,
            "Tokens are not accepted in the URL (they end up in logs): send the Authorization header, or a "
            "one-time ?ticket= from POST /api/v1/events/tickets.",
        )
    try:
        if ticket:
            db: Database = websocket.app.state.db
            return await write_transaction(db, lambda session: redeem_stream_ticket(session, ticket))
        auth = websocket.headers.get("authorization", "")
        bearer = auth[7:] if auth.lower().startswith("bearer ") else ""
        if not bearer:
            raise NotAuthenticated(
                "Sign in first: send 'Authorization: Bearer <token>', or a one-time ?ticket= from "
                "POST /api/v1/events/tickets."
            )
        return await run_in_threadpool(principal_from_token, websocket, bearer)
    except WinsError as exc:
        raise StreamRefused(CLOSE_SIGNED_OUT, exc.message[:120]) from None


async def _stream(
    websocket: WebSocket, access: StreamAccess, principal: Principal, scope: StreamScope, since: int | None
) -> None:
    hub = _hub(websocket.app)
    hub.subscribers += 1
    position = hub.last_id if since is None or since < 0 else since
    # Woken only by events its scope may show (its branch's, those of no branch, internal ones), not by every
    # call in every branch of a chain (wins.events.hub).
    waiter = hub.waiter(scope.branch_id)
    beat = heartbeat_seconds(websocket.app)
    heartbeat = _Heartbeat(waiter, beat)
    recheck = _Heartbeat(waiter, access.recheck_seconds)
    # Read the socket too: without it a client's close (or the server's own shutdown) goes unnoticed until
    # the next heartbeat, and a graceful stop or reload waits up to HEARTBEAT_SECONDS per open screen.
    closed = asyncio.create_task(_until_disconnect(websocket, waiter))
    # Raw ASGI messages around the hub's ready-made text: one event costs one JSON encoding for all
    # subscribers, and each subscriber only a frame write.
    send = websocket.send
    # Each event's frame is built once for all screens and written to this socket as is (wins.events.frames).
    frames = FrameWriter(websocket)
    stream_opened(direct=frames.direct)
    ended = False
    try:
        # `heartbeat`: the pages' watchdog takes a link silent for 2.25 times this as dead (web/static/stream.js).
        hello = {"type": "hello", "last_id": hub.last_id, "heartbeat": beat}
        await send({"type": "websocket.send", "text": json.dumps(hello)})
        while not closed.done():
            if recheck.due:
                recheck.due = False
                if not await access.still_valid(principal):
                    ended = True
                    break
            # From memory, only what concerns this scope, and how far that answer reaches (the hub's last event
            # when nothing else concerns it): a screen left asleep while other branches were busy skips their
            # events without looking at them.
            found = hub.scoped_after(position, scope.branch_id)
            if found is None:  # further behind than the hub keeps in memory
                events = await hub.events_after(position)
                reached = events[-1].id if events else position
            else:
                events, reached = found
            if events:
                shown: list[str] = []
                for event in events:
                    if event.internal:  # for the server only: never sent
                        if names(principal, event.data) and (
                            ends(principal, event.data) or not await access.still_valid(principal, fresh=True)
                        ):
                            ended = True
                            break
                        continue
                    if scope.shows(event):
                        shown.append(event.text)
                await frames.send_all(shown)  # what came before an end of the sign-in is still sent
                if ended:
                    break
                position = reached
                continue
            position = reached
            if heartbeat.due:
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
        recheck.stop()
        closed.cancel()
        hub.subscribers -= 1
        with contextlib.suppress(Exception):
            if ended:
                await websocket.close(code=CLOSE_SIGNED_OUT, reason="Signed out or revoked.")
            else:
                await websocket.close()


class _Heartbeat:
    """Every `seconds`: mark something due and wake the stream. For pings (HEARTBEAT_SECONDS), so a quiet screen
    still hears from us (displays drop a link that stays silent for 50 s), and for re-checking the sign-in.
    One timer per subscriber per period, not per event."""

    def __init__(self, waiter: Waiter, seconds: float) -> None:
        self.due = False
        self._waiter = waiter
        self._seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._timer = self._loop.call_later(seconds, self._beat)

    def _beat(self) -> None:
        self.due = True
        self._waiter.ring()
        self._timer = self._loop.call_later(self._seconds, self._beat)

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


def _tracked(request: Request, tracking_token: str) -> tuple[int, int, int, dict[str, Any], int]:
    from wins.events.service import last_event_id
    from wins.tickets.views import get_by_tracking_token, tracking_view

    db = request.app.state.db
    with db.session(write=False) as session:
        # The event id first: a change committed after it is caught by the next poll, so none is missed.
        last_id = last_event_id(session)
        ticket = get_by_tracking_token(session, tracking_token)
        view = tracking_view(session, ticket, request.app.state.settings)
        return ticket.id, ticket.service_id, ticket.branch_id, view, last_id


def _concerns(event: LoggedEvent, ticket_id: int, service_id: int, branch_id: int) -> bool:
    """Whether an event may change what this ticket's page shows (its state, position or estimate)."""
    if event.internal or event.branch_id not in (None, branch_id):
        return False
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
    ticket_id, service_id, branch_id, view, position = await run_in_threadpool(_tracked, request, tracking_token)
    if since is None or timeout == 0:
        return {"ticket": view, "last_id": position}
    # Replay what happened since the client's last answer (a `since` beyond the log, e.g. after a restore,
    # counts as "now").
    position = min(since, position)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (remaining := deadline - loop.time()) > 0:
        # Woken only by the ticket's branch (and events of no branch), not by every branch of a chain.
        events, position = await hub.wait_scoped(position, branch_id, timeout=remaining)
        if not events:
            break
        if any(_concerns(e, ticket_id, service_id, branch_id) for e in events):
            break
    _, _, _, view, _ = await run_in_threadpool(_tracked, request, tracking_token)
    return {"ticket": view, "last_id": position}
