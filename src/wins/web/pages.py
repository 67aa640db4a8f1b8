"""Shared plumbing of the staff pages: templates, who is signed in, CSRF on form posts, friendly errors."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from wins import __version__
from wins.errors import NotAuthenticated, PermissionDenied, WinsError
from wins.htmlsafe import install_filters
from wins.staff.models import Role, StaffUser
from wins.version import full_version
from wins.web.session import SAFE_METHODS, load_staff, read_session, tokens_match

logger = logging.getLogger(__name__)
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
install_filters(templates.env)

FLASH_COOKIE = "wins_flash"


def duration(seconds: float | None) -> str:
    """3 s, 4 min 05 s, 1 h 02 min — for people, not machines."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s" if sec else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def local_time(value: datetime | None, zone: str) -> str:
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") if value else "—"


templates.env.filters["duration"] = duration
templates.env.filters["local_time"] = local_time
templates.env.globals["version"] = __version__
templates.env.globals["build"] = full_version()  # the admin pages' footer: what runs (version and commit)


def nav_items(user: StaffUser | None) -> list[tuple[str, str]]:
    if user is None:
        return []
    rank = Role(user.role).rank
    items = [("/staff", "Counter")]
    if rank >= Role.manager.rank:
        items += [("/dashboard", "Dashboard"), ("/reports", "Reports"), ("/admin/services", "Services"),
                  ("/admin/counters", "Counters"), ("/admin/branch", "Branch")]  # fmt: skip
    if rank >= Role.admin.rank:
        items += [("/admin/users", "Users"), ("/admin/devices", "Devices"), ("/admin/webhooks", "Webhooks")]
    return items


def render(request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200) -> HTMLResponse:
    user: StaffUser | None = getattr(request.state, "user", None)
    flash = unquote(request.cookies.get(FLASH_COOKIE) or "")
    ctx = {
        "user": user,
        "csrf": getattr(request.state, "csrf", ""),
        "nav": nav_items(user),
        "path": request.url.path,
        "flash": flash,
        "form_error": getattr(request.state, "form_error", None),
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, ctx, status_code=status)
    # The Content-Security-Policy and the other page headers come from wins.app (every HTML answer gets them).
    response.headers["Cache-Control"] = "no-store"
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect_with_flash(url: str, message: str) -> RedirectResponse:
    """Post/redirect/get, with a one-time note shown on the next page ("Service saved.")."""
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(FLASH_COOKIE, quote(message), max_age=60, httponly=True, samesite="lax", path="/")
    return response


def require(minimum: Role) -> Callable[[Request], Awaitable[StaffUser]]:
    """Page dependency: a signed-in account with at least this role; form posts must carry the CSRF token."""

    async def dependency(request: Request) -> StaffUser:
        web = read_session(request)
        if web is None:
            raise NotAuthenticated("Sign in to continue.")
        user = await run_in_threadpool(load_staff, request, web.staff_id, web.version)
        if user is None:
            raise NotAuthenticated("Your sign-in has ended. Sign in again.")
        request.state.user = user
        request.state.csrf = web.csrf
        if request.method not in SAFE_METHODS:
            form = await request.form()
            given = form.get("csrf_token")
            if not isinstance(given, str) or not tokens_match(given, web.csrf):
                raise PermissionDenied(
                    "This form did not come from your WINS session (CSRF check failed). Reload the page and try again."
                )
        if Role(user.role).rank < minimum.rank:
            raise PermissionDenied(f"This page is for the {minimum.value} role or higher. Ask an admin if you need it.")
        return user

    return dependency


StaffPage = Annotated[StaffUser, Depends(require(Role.staff))]
ManagerPage = Annotated[StaffUser, Depends(require(Role.manager))]
AdminPage = Annotated[StaffUser, Depends(require(Role.admin))]


def form_error(request: Request, session: Session, exc: WinsError, page: Callable[[], Response]) -> Response:
    """A refused form: undo anything half-written, then show the same page again with the reason on top."""
    session.rollback()
    request.state.form_error = exc.message
    response = page()
    response.status_code = exc.status_code
    return response


async def html_error_handler(request: Request, exc: WinsError) -> Response:
    """Domain errors on web pages become a page written for people (the API keeps its JSON)."""
    if isinstance(exc, NotAuthenticated) and request.method in SAFE_METHODS:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    titles = {401: "Please sign in", 403: "Not allowed", 404: "Not found", 409: "That did not work", 429: "Slow down"}
    return render(
        request,
        "error.html",
        {"title": titles.get(exc.status_code, "Something is not right"), "message": exc.message},
        status=exc.status_code,
    )
