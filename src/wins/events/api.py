"""The event stream: WebSocket, and long-poll for clients and proxies that cannot do WebSockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from wins.deps import PrincipalDep, principal_from_token
from wins.errors import WinsError
from wins.events.hub import EventHub
from wins.schemas import EventBatch

logger = logging.getLogger(__name__)
router = APIRouter(tags=["events"])

MAX_LONG_POLL_SECONDS = 60.0
HEARTBEAT_SECONDS = 20.0


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
) -> dict[str, Any]:
    """Long-poll: events after `since`, waiting up to `timeout` seconds when there are none yet."""
    hub = _hub(request.app)
    start = hub.last_id if since is None else since
    events = await hub.wait(start, timeout=timeout, limit=limit)
    return {"events": events, "last_id": events[-1]["id"] if events else start}


@router.websocket("/events/ws")
async def event_socket(websocket: WebSocket, since: int | None = None, token: str | None = None) -> None:
    """Stream of events as JSON text frames. Replays everything after `since` first. Browsers pass their
    token as `?token=` (they cannot set headers on a WebSocket); other clients may use the Authorization header."""
    auth = websocket.headers.get("authorization", "")
    bearer = token or (auth[7:] if auth.lower().startswith("bearer ") else "")
    try:
        if not bearer:
            raise WinsError("missing token")
        await run_in_threadpool(principal_from_token, websocket, bearer)
    except WinsError:
        await websocket.close(code=4401, reason="Sign in first: pass ?token=<staff or device token>.")
        return
    await websocket.accept()
    hub = _hub(websocket.app)
    hub.subscribers += 1
    position = hub.last_id if since is None or since < 0 else since
    try:
        await websocket.send_text(json.dumps({"type": "hello", "last_id": hub.last_id}))
        while True:
            events = await hub.wait(position, timeout=HEARTBEAT_SECONDS)
            if not events:
                await websocket.send_text('{"type":"ping"}')
                continue
            for event in events:
                await websocket.send_text(json.dumps(event))
            position = events[-1]["id"]
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass
    except asyncio.CancelledError:
        raise
    finally:
        hub.subscribers -= 1
        with contextlib.suppress(Exception):
            await websocket.close()
