"""FastAPI dependencies: database sessions and who is calling.

The request owns the transaction: `SessionDep` commits after the route returns and before the response is
sent (dependency scope "function"), so a client never gets a 201 for a write that did not commit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Request, Response
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from wins import db_flags
from wins.auth import Principal, acting_in, resolve_token
from wins.config import Settings
from wins.db import Database, HasInfo
from wins.errors import NotAuthenticated, PermissionDenied, WinsError
from wins.logging_setup import note_user
from wins.staff.models import Role

T = TypeVar("T")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (None if absent, empty or of another scheme). The
    one parser of the header, for the routes and for the issue express lane (wins.tickets.express)."""
    scheme, token = get_authorization_scheme_param(authorization)
    return token or None if scheme.lower() == "bearer" else None


class BearerScheme(OAuth2PasswordBearer):
    """FastAPI's OAuth2 scheme (it documents the sign-in in OpenAPI), reading the header with `bearer_token`."""

    async def __call__(self, request: HTTPConnection) -> str | None:
        return bearer_token(request.headers.get("Authorization"))


oauth2_scheme = BearerScheme(tokenUrl="/api/v1/auth/token", auto_error=False)


@dataclass
class WebHooks:
    """What the staff web UI and the display board lend the API when they are installed (wins.web.install and
    wins.display.install set them; None without them). One typed object on `app.state.web_hooks`, made by
    create_app, instead of attributes probed by name."""

    # A signed-in browser's principal from its session cookie (None: no valid session).
    session_principal: Callable[[HTTPConnection], Principal | None] | None = None
    # That session's CSRF token (for pages outside wins.web: the display board in a manager's browser).
    session_csrf: Callable[[HTTPConnection], str | None] | None = None
    # Domain errors on pages (not /api) as a friendly HTML page.
    html_error_handler: Callable[[Request, WinsError], Awaitable[Response]] | None = None
    # A paired display board's principal from its HttpOnly pairing cookie (wins.display; safe methods only).
    device_cookie_principal: Callable[[HTTPConnection], Principal | None] | None = None


def web_hooks(conn: HTTPConnection) -> WebHooks:
    hooks: WebHooks = conn.app.state.web_hooks
    return hooks


# Token → principal, kept briefly so a busy kiosk or display does not cost a query per request.
# A revoked token or a deactivated user stops working within this many seconds.
PRINCIPAL_CACHE_SECONDS = 5.0


# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in the thread pool, and
# each such hop cost more than the work itself on the ticket-issuing path.
async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DatabaseDep = Annotated[Database, Depends(get_db)]
# Ids in paths: bounded so a 30-digit id is a clean 404, not an overflow inside the SQLite driver.
ObjectId = Annotated[int, Path(ge=-(2**63), le=2**63 - 1)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def public_base_url(conn: HTTPConnection) -> str:
    """Base of links given to customers: WINS_PUBLIC_URL, or the address the client used to reach us. (Also
    called by the issue express lane, wins.tickets.express, which runs before routing.)"""
    settings: Settings = conn.app.state.settings
    return (settings.public_url or str(conn.base_url)).rstrip("/")


async def get_public_base_url(request: Request) -> str:
    return public_base_url(request)


PublicBaseUrlDep = Annotated[str, Depends(get_public_base_url)]


async def _end(db: Database, finish: Callable[[Session], None], session: Session) -> None:
    # SQLite commits in microseconds (WAL, synchronous=NORMAL: no fsync), so it is done right here; a
    # PostgreSQL commit waits for the server, so it goes to the thread pool.
    if db.is_sqlite:
        finish(session)
    else:
        await run_in_threadpool(finish, session)


async def _session(db: Database, *, write: bool) -> AsyncIterator[Session]:
    # Opening a session does no I/O (it connects at its first query, in the route's thread).
    session = db.open(write=write)
    try:
        yield session
    except BaseException:
        await _end(db, db.rollback_and_close, session)
        raise
    await _end(db, db.commit_and_close, session)


# Write transactions requests may have open at once. The others wait here, on the event loop, not in a worker
# thread: a thread that blocks on the database's write lock (SQLite) or on a row lock (PostgreSQL)
# holds one of the thread pool's 40 tokens, and the transaction holding the lock needs a free token to finish
# its response. With 40 blocked writers nothing moved until a timeout (seen with 50 counters calling at once).
# Below 40, several requests still overlap their parsing, queries and responses.
CONCURRENT_WRITERS = 16


def _write_gate(db: Database) -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = db.write_gates.get(loop)
    if gate is None:
        gate = db.write_gates[loop] = asyncio.Semaphore(CONCURRENT_WRITERS)
    return gate


async def write_session(db: DatabaseDep) -> AsyncIterator[Session]:
    async with _write_gate(db):
        async for session in _session(db, write=True):
            yield session


async def read_session(db: DatabaseDep) -> AsyncIterator[Session]:
    async for session in _session(db, write=False):
        yield session


async def write_transaction(db: Database, work: Callable[[Session], T]) -> T:
    """Run `work` in one write transaction, in the thread pool through the write gate, and commit it before
    returning (so the caller answers only after the commit, like `SessionDep`). For `async def` routes."""
    async with _write_gate(db):
        return await run_in_threadpool(_in_session, db, work)


def _in_session(db: Database, work: Callable[[Session], T]) -> T:
    with db.session(write=True) as session:
        return work(session)


SessionDep = Annotated[Session, Depends(write_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(read_session, scope="function")]


def forget_principals_on_revocation(cache: dict[str, tuple[float, Principal]]) -> Callable[[HasInfo], None]:
    """After-commit hook: a committed revocation (sign-out, password change, deactivation, device revoked or
    rotated; see `wins.db_flags.note_credentials_changed`) empties this process's cache, so the revoked token stops
    working here at once, and in other processes when their entry expires (PRINCIPAL_CACHE_SECONDS)."""

    def forget(committed: HasInfo) -> None:
        if db_flags.credentials_changed(committed):
            cache.clear()

    return forget


def cached_principal(request: HTTPConnection, token: str) -> Principal | None:
    cache: dict[str, tuple[float, Principal]] = request.app.state.principal_cache
    hit = cache.get(token)
    return hit[1] if hit is not None and hit[0] > time.monotonic() else None


def principal_from_token(request: HTTPConnection, token: str) -> Principal:
    cache: dict[str, tuple[float, Principal]] = request.app.state.principal_cache
    now = time.monotonic()
    hit = cache.get(token)
    if hit is not None and hit[0] > now:
        note_user(hit[1].label)  # for the access line (display pages, WebSockets, the express lane)
        return hit[1]
    db: Database = request.app.state.db
    settings: Settings = request.app.state.settings
    with db.session(write=False) as session:
        principal = resolve_token(
            session, token, secret_key=settings.effective_secret_key, max_age=settings.token_ttl_seconds
        )
    if len(cache) > 10000:
        cache.clear()
    cache[token] = (now + PRINCIPAL_CACHE_SECONDS, principal)
    note_user(principal.label)
    return principal


BRANCH_HEADER = "X-WINS-Branch"
BRANCH_COOKIE = "wins_branch"  # the workspace's branch picker remembers the choice here (wins.web.branch_picker)


def requested_branch(conn: HTTPConnection) -> str | None:
    """The branch a request asks to act in: the X-WINS-Branch header, else `?branch=` (an id, or `all`)."""
    return conn.headers.get(BRANCH_HEADER) or conn.query_params.get("branch")


def with_branch(conn: HTTPConnection, principal: Principal) -> Principal:
    """`principal` acting in the branch this request chose (wins.auth.acting_in): pure, no I/O."""
    return acting_in(principal, requested_branch(conn), remembered=conn.cookies.get(BRANCH_COOKIE))


async def get_principal(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    if not token or (principal := cached_principal(request, token)) is None:
        principal = await run_in_threadpool(_resolve_principal, request, token)
    # else the common case: no thread hop, no query
    note_user(principal.label)  # for the access line
    return with_branch(request, principal)


def _resolve_principal(request: Request, token: str | None) -> Principal:
    if not token:
        # A signed-in browser (wins.web) may use its session cookie instead; that hook demands the session's
        # X-CSRF-Token header on unsafe methods. Bearer tokens behave exactly as before.
        hook = web_hooks(request).session_principal
        principal: Principal | None = hook(request) if hook is not None else None
        if principal is not None:
            return principal
        # A paired display board or web kiosk (wins.display) calls with its HttpOnly pairing cookie: no token in
        # its page. The hook decides which requests a cookie may make (CSRF: see device_cookie_principal).
        device_hook = web_hooks(request).device_cookie_principal
        if device_hook is not None:
            principal = device_hook(request)
            if principal is not None:
                return principal
        raise NotAuthenticated("Sign in first: send 'Authorization: Bearer <token>' (staff token or device token).")
    return principal_from_token(request, token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _require(minimum: Role):  # type: ignore[no-untyped-def]
    async def dependency(principal: PrincipalDep) -> Principal:
        if principal.staff is None:
            raise PermissionDenied("This action needs a staff account; device tokens cannot do it.")
        principal.require_staff(minimum)
        return principal

    return dependency


ReceptionDep = Annotated[Principal, Depends(_require(Role.reception))]  # issue and see the queue, not call
StaffDep = Annotated[Principal, Depends(_require(Role.staff))]
ManagerDep = Annotated[Principal, Depends(_require(Role.manager))]
AdminDep = Annotated[Principal, Depends(_require(Role.admin))]


async def _head_office(principal: PrincipalDep) -> Principal:
    if not principal.head_office:
        raise PermissionDenied("This is for head-office admins (an account whose own role is admin).")
    return principal


# Head office: staff accounts and their branches, reports across all branches.
HeadOfficeDep = Annotated[Principal, Depends(_head_office)]
