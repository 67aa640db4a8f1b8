"""Browser sessions: a signed HttpOnly cookie, a CSRF token per session, and short-lived stream tickets.

How the counter workspace's JavaScript authenticates (the choice asked for in issue 3): the REST API accepts the
session cookie, but only with an `X-CSRF-Token` header equal to the session's CSRF token on unsafe methods
(see `wins.deps.get_principal`). So no long-lived bearer token is ever readable by page scripts: a script
injected into another site cannot send the header, and an XSS on our pages cannot carry a credential away.
Browsers cannot set headers on a WebSocket, so before each (re)connect the page asks
`POST /api/v1/events/tickets` (session cookie + CSRF header) for a one-time connect ticket that only opens the
event socket (wins.events.access); no token of the session ever goes in a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.responses import Response

from wins.auth import Principal, staff_principal
from wins.config import Environment, Settings
from wins.db import Database
from wins.errors import NotAuthenticated, PermissionDenied
from wins.staff.models import StaffUser
from wins.staff.security import sign, unsign

SESSION_COOKIE = "wins_session"
LOGIN_CSRF_COOKIE = "wins_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_PURPOSE = "web-session"
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
    method = conn.scope.get("method", "GET")
    if method not in SAFE_METHODS and not tokens_match(conn.headers.get(CSRF_HEADER), web.csrf):
        raise PermissionDenied(f"This request needs the {CSRF_HEADER} header of your session (CSRF protection).")
    principal = load_principal(conn, web)
    if principal is None:
        raise NotAuthenticated("Your sign-in has ended. Reload the page and sign in again.")
    return principal


def load_principal(conn: HTTPConnection, web: WebSession) -> Principal | None:
    """The session's account with its branches and roles (wins.auth.staff_principal), or None when the
    session's sign-in ended."""
    db: Database = conn.app.state.db
    with db.session(write=False) as session:
        user = session.get(StaffUser, web.staff_id)
        if user is None or not user.active or user.token_version != web.version:
            return None
        return staff_principal(session, user, session_key=session_key(web))


def session_csrf(conn: HTTPConnection) -> str | None:
    """Hook for pages outside wins.web (the display board in a manager's browser): the session's CSRF token."""
    web = read_session(conn)
    return web.csrf if web is not None else None


def session_key(web: WebSession) -> str:
    """Names one signed-in browser session without revealing anything of it: a hash of its CSRF token, which is
    new at every sign-in. Signing out announces it (wins.events.service.record_sign_in_ended) so the event
    streams that session opened close at once."""
    return hashlib.sha256(b"wins-session:" + web.csrf.encode()).hexdigest()[:32]
