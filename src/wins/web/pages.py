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
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from wins import __version__
from wins.auth import Principal
from wins.branches.models import Branch
from wins.db import Database
from wins.deps import with_branch
from wins.errors import NoBranch, NotAuthenticated, PermissionDenied, WinsError
from wins.htmlsafe import install_filters
from wins.staff.models import Role, StaffUser
from wins.version import full_version
from wins.web.session import SAFE_METHODS, load_principal, read_session, tokens_match

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


def since(iso: str | None) -> str:
    """How long ago an ISO time was, for people ("4 min 05 s")."""
    from wins import clock

    return duration((clock.utcnow() - datetime.fromisoformat(iso)).total_seconds()) if iso else "—"


templates.env.filters["duration"] = duration
templates.env.filters["since"] = since
templates.env.filters["local_time"] = local_time
templates.env.globals["version"] = __version__
templates.env.globals["build"] = full_version()  # the admin pages' footer: what runs (version and commit)


def nav_items(user: StaffUser | None, role: Role | None = None) -> list[tuple[str, str]]:
    """The menu for the account's role (`role`: its role in the branch the page acts in)."""
    if user is None:
        return []
    rank = (role or Role(user.role)).rank
    items = [("/staff", "Counter" if rank >= Role.staff.rank else "Reception")]
    if rank >= Role.manager.rank:
        items += [("/dashboard", "Dashboard"), ("/reports", "Reports"), ("/admin/services", "Services"),
                  ("/admin/counters", "Counters"), ("/admin/branch", "Branch")]  # fmt: skip
    if rank >= Role.admin.rank:
        items += [("/admin/users", "Users"), ("/admin/devices", "Devices"), ("/admin/branches", "Branches")]
        items += [("/admin/webhooks", "Webhooks")]
    return items


def render(request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200) -> HTMLResponse:
    user: StaffUser | None = getattr(request.state, "user", None)
    principal: Principal | None = getattr(request.state, "principal", None)
    flash = unquote(request.cookies.get(FLASH_COOKIE) or "")
    ctx = {
        "user": user,
        "csrf": getattr(request.state, "csrf", ""),
        "nav": nav_items(user, principal.role if principal is not None else None),
        # The branch picker (wins.web.branch_picker): shown only to accounts in more than one branch.
        "branch_choices": getattr(request.state, "branch_choices", []),
        "branch_id": principal.branch_id if principal is not None else None,
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
        signed_in = await run_in_threadpool(load_principal, request, web)
        if signed_in is None or signed_in.staff is None:
            raise NotAuthenticated("Your sign-in has ended. Sign in again.")
        user = signed_in.staff
        request.state.user = user
        request.state.csrf = web.csrf
        # The branch the pages act in: the workspace's picker (cookie), or the account's first branch.
        principal = request.state.principal = with_branch(request, signed_in)
        if len(principal.branch_roles) > 1:
            request.state.branch_choices = await run_in_threadpool(branch_names, request, principal.branch_ids)
        if request.method not in SAFE_METHODS:
            form = await request.form()
            given = form.get("csrf_token")
            if not isinstance(given, str) or not tokens_match(given, web.csrf):
                raise PermissionDenied(
                    "This form did not come from your WINS session (CSRF check failed). Reload the page and try again."
                )
        role = principal.role
        if role is None or role.rank < minimum.rank:
            raise PermissionDenied(f"This page is for the {minimum.value} role or higher. Ask an admin if you need it.")
        return user

    return dependency


def branch_names(request: Request, branch_ids: list[int]) -> list[tuple[int, str]]:
    """(id, name) of these branches, by name: what the branch picker offers."""
    db: Database = request.app.state.db
    with db.session(write=False) as session:
        rows = session.execute(select(Branch.id, Branch.name).where(Branch.id.in_(branch_ids)).order_by(Branch.name))
        return [(row.id, row.name) for row in rows]


def page_actor(request: Request) -> Principal:
    """Who acts on a page (after `require`): the signed-in account, acting in the page's branch."""
    principal: Principal = request.state.principal
    return principal


def page_branch(request: Request) -> int | None:
    """The branch a page shows and changes (after `require`)."""
    return page_actor(request).branch_id


ReceptionPage = Annotated[StaffUser, Depends(require(Role.reception))]  # every staff account


StaffPage = Annotated[StaffUser, Depends(require(Role.staff))]
ManagerPage = Annotated[StaffUser, Depends(require(Role.manager))]
AdminPage = Annotated[StaffUser, Depends(require(Role.admin))]


async def _head_office_page(request: Request, user: AdminPage) -> StaffUser:
    if not page_actor(request).head_office:
        raise PermissionDenied("Staff accounts are managed by head office (an account whose own role is admin).")
    return user


# Staff accounts: an admin of one branch must not make accounts (or themselves) admins of every branch.
HeadOfficePage = Annotated[StaffUser, Depends(_head_office_page)]


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
    user: StaffUser | None = getattr(request.state, "user", None)
    if isinstance(exc, NoBranch) and request.method in SAFE_METHODS and user is not None:
        if Role(user.role).rank >= Role.admin.rank:  # a fresh site: the admin lands on the first-run page
            return RedirectResponse("/admin/branches", status_code=303)
        return render(
            request,
            "error.html",
            {"title": "Not set up yet", "message": "This site has no branch yet. Ask an admin to set it up."},
            status=exc.status_code,
        )
    titles = {
        401: "Please sign in",
        403: "Not allowed",
        404: "Page not found",
        405: "Not possible here",
        409: "That did not work",
        429: "Slow down",
        500: "Something went wrong",
        503: "Try again in a moment",
    }
    return render(
        request,
        "error.html",
        {"title": titles.get(exc.status_code, "Something is not right"), "message": exc.message},
        status=exc.status_code,
    )
