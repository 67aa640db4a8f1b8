"""The express lane for kiosk taps: `POST /api/v1/tickets` served without FastAPI's routing and dependencies.

Why: issuing is the hottest request (every tap, and bursts when a bus unloads). Once the issue transaction had
been cut to a few statements (wins.tickets.issuing.issue_with), FastAPI's route matching, dependency solving and
response machinery cost more than the work itself: the target of 1,300 tickets/s on two cores
(docs/performance.md) leaves 0.77 ms of CPU per ticket, all included.

How it stays exactly the route: the lane only takes a request it can answer exactly as the route would — a valid
Bearer token (resolved as the route resolves it), a JSON body that validates, and an issue that succeeds. Anything
else (a cookie session, an unknown or expired token, a bad body, a domain error, a busy write lock on SQLite, a
repeated Idempotency-Key or a refused statement on PostgreSQL) is handed, untouched and with its body replayed, to
the ordinary route in wins.tickets.api, which gives the usual answer or error. A refused issue does nothing before
it is refused, so the route redoing it is safe. The route stays the documented API (OpenAPI); tests/test_express.py
checks that both give the same answers, on both databases.

SQLite: `issuing.issue_on_loop`, the route's own statements on a bare sqlite3 connection. PostgreSQL:
`issuing.issue_on_loop_pg`, the route's one statement on a psycopg connection of the event loop's pool
(WINS_DATABASE_ISSUE_CONNECTIONS). If that connection breaks with the statement in flight, the ticket may exist:
with an Idempotency-Key the route finds out (see there); without one the lane answers as the route answers a
database that went away mid-transaction (503), never issuing a second ticket blindly.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wins.bodylimit import ISSUE_LIMIT
from wins.db import UNAVAILABLE_MESSAGE, Database, OutcomeUnknown, WriteLockBusy
from wins.deps import bearer_token, cached_principal, principal_from_token, public_base_url
from wins.errors import WinsError
from wins.logging_setup import note_user
from wins.schemas import TicketCreate
from wins.tickets.issuing import issue_on_loop, issue_on_loop_pg
from wins.tickets.views import tracking_url

logger = logging.getLogger(__name__)

PATH = "/api/v1/tickets"
MAX_BODY = ISSUE_LIMIT  # a tap's body is ~50 bytes; BodyLimitMiddleware refuses more before the lane runs

# The route's inputs and dependency tree (the /api/v1 router's and the app's dependencies included) as they were
# when the lane was last reviewed against them; tests/test_express.py fails as soon as they differ. The lane does
# what each one does: the Idempotency-Key header (at most 128 characters) and the TicketCreate body it validates
# itself; get_principal with BearerScheme through bearer_token, cached_principal and principal_from_token; the
# database and settings from app.state; get_public_base_url through public_base_url. Whatever is added to the route
# later (a rate limit, a check, a header) must be done here too, or make the lane hand such requests to the route.
REVIEWED_ROUTE = (
    "header Idempotency-Key",
    "body body",
    "wins.deps.get_principal",
    "  wins.deps.BearerScheme",
    "wins.deps.get_db",
    "wins.deps.get_app_settings",
    "wins.deps.get_public_base_url",
)


class IssueExpressLane:
    """ASGI middleware in front of the router (inside the access log, so every request is still logged)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        token = bearer_token(request.headers.get("authorization"))
        db: Database = request.app.state.db
        if not token or not (db.is_sqlite or db.loop_pool is not None):
            await self.app(scope, receive, send)
            return
        principal = cached_principal(request, token)
        if principal is None:
            # Not cached (first tap, or the cache's few seconds ran out): resolve it as the route would, in the
            # thread pool. Handing these to the route instead sent every tap in flight at that moment down the
            # slow path, which then held the write lock and pushed the next taps there too (the 64-client tail).
            try:
                principal = await run_in_threadpool(principal_from_token, request, token)
            except WinsError:
                await self.app(scope, receive, send)  # the route words the refusal
                return
        note_user(principal.label)  # for the access line
        body, more = await _read_body(receive)
        answer = None if more else await self._try(request, principal, body)
        if answer is None:
            await self.app(scope, _replay(body, receive, more), send)
            return
        status, payload = answer
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    @staticmethod
    async def _try(request: Request, principal: Any, body: bytes) -> tuple[int, bytes] | None:
        headers = request.headers
        if len(body) > MAX_BODY:
            return None
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return None
        if "x-wins-branch" in headers or "branch" in request.query_params:
            return None  # the route checks the branch asked for (wins.deps.with_branch)
        key = headers.get("idempotency-key")
        if key is not None and len(key) > 128:
            return None
        try:
            data = TicketCreate.model_validate(json.loads(body))
        except (ValueError, ValidationError, RecursionError):  # JSON errors, nesting too deep: the route words them
            return None
        if data.priority_category is not None:  # checked against the branch's categories: the route does it
            return None
        state = request.app.state
        try:
            if state.db.is_sqlite:
                outcome: tuple[dict[str, Any], bool] | None = issue_on_loop(
                    state.db, state.settings, principal, data, key
                )
            else:
                outcome = await issue_on_loop_pg(state.db, state.settings, principal, data, key)
        except (WinsError, WriteLockBusy):
            return None
        except OutcomeUnknown as exc:
            # The route's answer when its database goes away mid-transaction (wins.app): the kiosk may try again.
            logger.error("database unavailable: %s (during the issue express lane)", exc)
            return 503, _encode({"detail": UNAVAILABLE_MESSAGE, "code": "database_unavailable"})
        if outcome is None:
            return None
        view, created = outcome
        view["tracking_url"] = tracking_url(public_base_url(request), view["tracking_token"])
        return (201 if created else 200), _encode(view)


def _encode(content: dict[str, Any]) -> bytes:
    # As Starlette's JSONResponse encodes, so both ways give the same bytes.
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The request body if it is small and complete; otherwise what was read so far, kept for replay."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), [message]
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), []
        if size > MAX_BODY:
            return b"".join(chunks), [{"type": "http.request", "body": b"", "more_body": True}]


def _replay(body: bytes, receive: Receive, more: list[Message]) -> Receive:
    """A receive() that gives the downstream app the body already read, then continues with the real one."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": bool(more)}]
    if more and more[0]["type"] != "http.request":
        pending = [{"type": "http.request", "body": body, "more_body": False}, *more]

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
