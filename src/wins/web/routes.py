"""Sign-in, the counter workspace and the live manager dashboard."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from wins.auth import Principal, client_address
from wins.branches.service import branch_public, get_branch
from wins.counters.service import counter_public, list_counters
from wins.deps import DatabaseDep, ReadSessionDep, SessionDep, SettingsDep
from wins.devices.models import DeviceKind
from wins.devices.service import list_devices
from wins.errors import WinsError
from wins.services.service import list_services, service_public
from wins.staff import service as staff_service
from wins.staff.models import Role, StaffUser
from wins.staff.throttle import Limits
from wins.tickets.snapshot import queue_snapshot
from wins.web.pages import ManagerPage, StaffPage, render
from wins.web.session import (
    LOGIN_CSRF_COOKIE,
    end_session,
    load_staff,
    new_csrf_token,
    read_session,
    set_cookie,
    start_session,
    tokens_match,
)
from wins.webhooks.service import paused_endpoints

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
REPRINT_PATH = "/api/v1/tickets/{ticket_id}/reprint"


def _safe_next(target: str | None) -> str | None:
    # Only our own paths: "//evil.example" or "https://…" would turn the sign-in page into an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _home(user: StaffUser) -> str:
    return "/dashboard" if Role(user.role).rank >= Role.manager.rank else "/staff"


def _login_page(request: Request, *, next_url: str, error: str = "", username: str = "", status: int = 200) -> Response:
    token = new_csrf_token()
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "next": next_url, "error": error, "username": username},
        status=status,
    )
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002 - the query name
    web = read_session(request)
    user = load_staff(request, web.staff_id, web.version) if web else None
    if user is not None:
        return RedirectResponse(_safe_next(next) or _home(user), status_code=303)
    return _login_page(request, next_url=_safe_next(next) or "")


@router.post("/login")
def login(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",  # noqa: A002 - the form field name
) -> Response:
    next_url = _safe_next(next) or ""
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        return _login_page(
            request,
            next_url=next_url,
            username=username,
            error="The sign-in form expired or did not come from this site. Please try again.",
            status=403,
        )
    try:
        user = staff_service.sign_in(
            db,
            username=username,
            password=password,
            client=client_address(request),
            limits=Limits.from_settings(settings),
        )
    except WinsError as failure:
        return _login_page(
            request, next_url=next_url, username=username, error=failure.message, status=failure.status_code
        )
    response = RedirectResponse(next_url or _home(user), status_code=303)
    start_session(response, request, user)
    logger.info("%s signed in to the web UI", user.username)
    return response


@router.get("/logout")
def logout_page(request: Request) -> Response:
    web = read_session(request)
    if web is None:
        return RedirectResponse("/login", status_code=303)
    request.state.csrf = web.csrf
    return render(request, "logout.html", {"title": "Sign out"})


@router.post("/logout")
def logout(request: Request, user: StaffPage, session: SessionDep) -> Response:
    """Sign out: the session ends on the server too (a copy of the cookie no longer works), and so do the
    account's other sessions and API tokens."""
    staff_service.sign_out(session, user.id, actor=Principal(staff=user))
    response = RedirectResponse("/login", status_code=303)
    end_session(response)
    logger.info("%s signed out of the web UI from %s", user.username, client_address(request))
    return response


def _kiosk_status(session: Any) -> list[dict[str, Any]]:
    return [
        {"id": d.id, "name": d.name, "status": d.status, "revoked": d.revoked_at is not None}
        for d in list_devices(session)
        if d.kind == DeviceKind.kiosk and d.revoked_at is None
    ]


@router.get("/staff")
def workspace(request: Request, user: StaffPage, session: ReadSessionDep) -> Response:
    """The counter workspace. The page is a shell: its script fetches the queue from the REST API and follows
    the event stream, and every button calls the same REST API the other clients use."""
    branch = get_branch(session)
    services = [service_public(s) for s in list_services(session)]
    counters = [counter_public(session, c) for c in list_counters(session)]
    config = {
        "user": {"id": user.id, "name": user.full_name or user.username},
        "last_counter_id": user.last_counter_id,
        "counters": counters,
        "services": services,
        "kiosks": _kiosk_status(session),
        # The Reprint button appears when the printing part of the API is installed.
        "reprint": any(getattr(r, "path", "") == REPRINT_PATH for r in request.app.routes),
    }
    return render(
        request,
        "staff.html",
        {"title": "Counter", "branch": branch_public(branch), "config": config, "counters": counters},
    )


@router.get("/dashboard")
def dashboard(request: Request, _: ManagerPage, session: ReadSessionDep, settings: SettingsDep) -> Response:
    """Live overview for managers: queues, longest waits, open counters and who sits there, served today."""
    snapshot = queue_snapshot(session, settings=settings)
    context = {"title": "Dashboard", "q": snapshot, "kiosks": _kiosk_status(session), **_webhook_alerts(session)}
    return render(request, "dashboard.html", context)


@router.get("/dashboard/live")
def dashboard_live(request: Request, _: ManagerPage, session: ReadSessionDep, settings: SettingsDep) -> Response:
    """The dashboard's body alone; the page swaps it in when the event stream reports a change."""
    snapshot = queue_snapshot(session, settings=settings)
    context = {"q": snapshot, "kiosks": _kiosk_status(session), **_webhook_alerts(session)}
    return render(request, "_dashboard_body.html", context)


def _webhook_alerts(session: Session) -> dict[str, Any]:
    return {"paused_webhooks": [e.url for e in paused_endpoints(session)]}
