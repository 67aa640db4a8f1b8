"""Retry a request whose transaction PostgreSQL aborted as a deadlock victim or a serialization failure (or
that lost a race it would win when run again, `RETRYABLE_CONSTRAINTS`).

Such an abort (SQLSTATE 40P01 / 40001) says nothing about the request: the same request run again a moment later
succeeds. The client could retry it, but it cannot tell this 503 from "database down", so the server does it
itself: the whole request again (route, dependencies, transaction), with its body replayed, up to
`ATTEMPTS` times. That is safe because the request owns its transaction (docs/architecture.md, rule 1): an
aborted request changed nothing, sent no event (events only after commit) and no response (the answer goes out
after the commit). Requests that act outside the database before they commit (printing a slip) are not retried.

How: this ASGI middleware (PostgreSQL only; SQLite writers are serial and never deadlock) marks the request
retryable; the OperationalError handler of wins.app, seeing a retryable SQLSTATE on a marked request, raises
`RetryRequest` instead of answering, and this middleware catches it and runs the request again.
"""

from __future__ import annotations

import asyncio
import logging
import random

from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

ATTEMPTS = 6  # the first try and five retries; a sixth conflict in a row answers 503
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
# Unique violations that mean "another request did this first": run again, the request finds its work done
# (two taps with one Idempotency-Key: the retry answers with the first one's ticket, wins.tickets.issuing).
RETRYABLE_CONSTRAINTS = frozenset({"uq_tickets_idempotency_scope_key"})
SCOPE_KEY = "wins.retry"  # in the ASGI scope: True while a retry is still possible
NOT_RETRIED = frozenset({"/reprint"})  # path endings of requests with effects outside the database (a printer)


class RetryRequest(Exception):
    """Raised by the error handler: run this request again (its transaction was aborted by a conflict)."""


def is_retryable(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate == "23505":  # unique_violation
        return getattr(getattr(exc.orig, "diag", None), "constraint_name", None) in RETRYABLE_CONSTRAINTS
    return sqlstate in RETRYABLE_SQLSTATES


def may_retry(scope: Scope) -> bool:
    return bool(scope.get(SCOPE_KEY))


class TransactionRetryMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].endswith(tuple(NOT_RETRIED)):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        for attempt in range(1, ATTEMPTS + 1):
            scope[SCOPE_KEY] = attempt < ATTEMPTS
            try:
                await self.app(scope, _replay(body, receive), send)
                return
            except RetryRequest:
                logger.info("transaction conflict on %s %s; retrying (%d)", scope["method"], scope["path"], attempt)
                # A little jitter, so two victims of one conflict do not meet again at once.
                await asyncio.sleep(random.uniform(0, 0.002 * attempt))  # noqa: S311 (not for security)


async def _read_body(receive: Receive) -> list[Message]:
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()  # after the body: the disconnect, as usual

    return replay
