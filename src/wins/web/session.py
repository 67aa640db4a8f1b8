"""Browser sessions: a signed HttpOnly cookie, a CSRF token per session, and short-lived stream tickets.

How the counter workspace's JavaScript authenticates (the choice asked for in issue 3): the REST API accepts the
session cookie, but only with an `X-CSRF-Token` header equal to the session's CSRF token on unsafe methods
(see `wins.deps.get_principal`). So no long-lived bearer token is ever readable by page scripts: a script
injected into another site cannot send the header, and an XSS on our pages cannot carry a credential away.
Browsers cannot set headers on a WebSocket and the event socket only reads `?token=`, so the page fetches a
stream ticket valid for `STREAM_TICKET_SECONDS` just before each (re)connect; a leaked ticket is useless a
minute later and is never accepted for anything but a sign-in check.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response

from wins.auth import Principal
from wins.config import Environment, Settings
from wins.db import Database
from wins.errors import NotAuthenticated, PermissionDenied
from wins.staff.models import StaffUser
from wins.staff.security import sign, unsign

SESSION_COOKIE = "wins_session"
LOGIN_CSRF_COOKIE = "wins_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_PURPOSE = "web-session"
STREAM_PURPOSE = "web-stream"
STREAM_TICKET_PREFIX = "wst."
STREAM_TICKET_SECONDS = 60
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class WebSession:
    staff_id: int
    version: int
    csrf: str


def _settings(conn: HTTPConnection) -> Settings:
    settings: Settings = conn.app.state.settings
    return settings


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def tokens_match(given: str | None, expected: str) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500 for a forged field).
    return bool(given) and hmac.compare_digest(str(given).encode("utf-8", "surrogatepass"), expected.encode())


def set_cookie(response: Response, conn: HTTPConnection, name: str, value: str, *, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",  # Lax, not Strict: a bookmarked link from the intranet portal still arrives signed in
        secure=_settings(conn).env == Environment.production,
        path="/",
    )


def start_session(response: Response, conn: HTTPConnection, user: StaffUser) -> None:
    settings = _settings(conn)
    value = sign(
        settings.effective_secret_key,
        SESSION_PURPOSE,
        {"sid": user.id, "v": user.token_version, "csrf": new_csrf_token()},
    )
    set_cookie(response, conn, SESSION_COOKIE, value, max_age=settings.token_ttl_seconds)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def read_session(conn: HTTPConnection) -> WebSession | None:
    raw = conn.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    settings = _settings(conn)
    data = unsign(settings.effective_secret_key, SESSION_PURPOSE, raw, max_age=settings.token_ttl_seconds)
    if data is None or not isinstance(data.get("sid"), int) or not isinstance(data.get("csrf"), str):
        return None
    return WebSession(staff_id=data["sid"], version=int(data.get("v", -1)), csrf=data["csrf"])


def load_staff(conn: HTTPConnection, staff_id: int, version: int) -> StaffUser | None:
    """The active account a session or ticket names, if its sign-ins were not revoked since (password change,
    deactivation bump `token_version`, exactly as for API tokens)."""
    db: Database = conn.app.state.db
    with db.session(write=False) as session:
        user = session.get(StaffUser, staff_id)
    if user is None or not user.active or user.token_version != version:
        return None
    return user


def session_principal(conn: HTTPConnection) -> Principal | None:
    """Hook for `wins.deps.get_principal`: the API called by our own pages with the session cookie."""
    web = read_session(conn)
    if web is None:
        return None
    user = load_staff(conn, web.staff_id, web.version)
    if user is None:
        raise NotAuthenticated("Your sign-in has ended. Reload the page and sign in again.")
    method = conn.scope.get("method", "GET")
    if method not in SAFE_METHODS and not tokens_match(conn.headers.get(CSRF_HEADER), web.csrf):
        raise PermissionDenied(f"This request needs the {CSRF_HEADER} header of your session (CSRF protection).")
    return Principal(staff=user)


def stream_ticket(conn: HTTPConnection, user: StaffUser) -> str:
    settings = _settings(conn)
    return STREAM_TICKET_PREFIX + sign(
        settings.effective_secret_key, STREAM_PURPOSE, {"sid": user.id, "v": user.token_version}
    )


def token_principal(conn: HTTPConnection, token: str) -> Principal | None:
    """Hook for `wins.deps.principal_from_token`: stream tickets (None for every other kind of token)."""
    if not token.startswith(STREAM_TICKET_PREFIX):
        return None
    settings = _settings(conn)
    data: dict[str, Any] | None = unsign(
        settings.effective_secret_key,
        STREAM_PURPOSE,
        token.removeprefix(STREAM_TICKET_PREFIX),
        max_age=STREAM_TICKET_SECONDS,
    )
    user = load_staff(conn, int(data.get("sid", 0)), int(data.get("v", -1))) if data else None
    if user is None:
        raise NotAuthenticated("This stream ticket expired; fetch a new one.")
    return Principal(staff=user)
