"""Sign-in, the counter workspace and the live manager dashboard."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from wins.auth import acting_in, client_address, staff_principal
from wins.branches.service import branch_public, get_branch
from wins.counters.seating import HeldChoice, leave_all, seated_ticket
from wins.counters.service import counter_public, list_counters
from wins.counters.stranded import stranded_tickets
from wins.db import Database
from wins.deps import BRANCH_COOKIE, DatabaseDep, ReadSessionDep, SessionDep, SettingsDep
from wins.devices.models import DeviceKind
from wins.devices.service import list_devices
from wins.enums import PauseReason
from wins.errors import ValidationFailed, WinsError
from wins.services.service import list_services, service_public
from wins.staff import service as staff_service
from wins.staff.models import Role, StaffUser
from wins.staff.throttle import Limits
from wins.tickets.calling import category_labels
from wins.tickets.snapshot import queue_snapshot
from wins.web.pages import ManagerPage, ReceptionPage, page_actor, page_branch, render
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
PAUSE_LABELS = {PauseReason.break_: "Break", PauseReason.paperwork: "Paperwork", PauseReason.other: "Other"}
router = APIRouter(include_in_schema=False)
REPRINT_PATH = "/api/v1/tickets/{ticket_id}/reprint"


def _safe_next(target: str | None) -> str | None:
    # Only our own paths: "//evil.example" or "https://…" would turn the sign-in page into an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _home(request: Request, user: StaffUser) -> str:
    """The person's own page: the dashboard for a manager *in the branch they act in* (the picker's cookie, else
    their first branch), else the workspace (reception too)."""
    db: Database = request.app.state.db
    try:
        with db.session(write=False) as session:
            principal = acting_in(staff_principal(session, user), None, remembered=request.cookies.get(BRANCH_COOKIE))
    except WinsError:  # in no branch yet: the workspace says so
        return "/staff"
    role = principal.role
    return "/dashboard" if role is not None and role.rank >= Role.manager.rank else "/staff"


def _login_page(request: Request, *, next_url: str, error: str = "", username: str = "", status: int = 200) -> Response:
    token = new_csrf_token()
    response = render(
        request,
        "login.html",
        # The title says when the sign-in failed: it is the first thing a screen reader reads on the new page.
        {
            "title": "Error: sign in" if error else "Sign in",
            "login_csrf": token,
            "next": next_url,
            "error": error,
            "username": username,
        },  # fmt: skip
        status=status,
    )
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.get("/")
def root(request: Request) -> Response:
    """Where a person typing the server's address lands: their own page when signed in, else the sign-in page."""
    web = read_session(request)
    user = load_staff(request, web.staff_id, web.version) if web else None
    return RedirectResponse(_home(request, user) if user is not None else "/login", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002 - the query name
    web = read_session(request)
    user = load_staff(request, web.staff_id, web.version) if web else None
    if user is not None:
        return RedirectResponse(_safe_next(next) or _home(request, user), status_code=303)
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
    response = RedirectResponse(next_url or _home(request, user), status_code=303)
    start_session(response, request, user)
    logger.info("%s signed in to the web UI", user.username)
    return response


def _logout_page(request: Request, session: Any, staff_id: int, *, status: int = 200, error: str = "") -> Response:
    held = seated_ticket(session, staff_id)
    context: dict[str, Any] = {"title": "Sign out", "held": held, "error": error}
    if held is not None:
        # Where the ticket can go: its own branch's services and open counters (not the first branch's).
        branch_id = held["branch_id"]
        services = list_services(session, branch_id=branch_id)
        context["services"] = [s for s in services if s.active and s.id != held["service_id"]]
        counters = list_counters(session, branch_id=branch_id)
        context["open_counters"] = [c for c in counters if c.is_open and c.id != held["counter_id"]]
    return render(request, "logout.html", context, status=status)


@router.get("/logout")
def logout_page(request: Request, session: ReadSessionDep) -> Response:
    web = read_session(request)
    if web is None:
        return RedirectResponse("/login", status_code=303)
    request.state.csrf = web.csrf
    return _logout_page(request, session, web.staff_id)


@router.post("/logout")
def logout(
    request: Request,
    user: ReceptionPage,
    session: SessionDep,
    held_ticket: Annotated[str, Form(max_length=20)] = "",
    transfer_to: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Sign out: the session ends on the server too (a copy of the cookie no longer works), and so do the
    account's other sessions and API tokens. The counter the user sits at is left; a ticket it holds needs a
    choice (complete, requeue, transfer), asked on the sign-out page."""
    actor = page_actor(request)
    try:
        choice = _held_choice(held_ticket, transfer_to)
        leave_all(session, staff_id=user.id, actor=actor, choice=choice)
    except WinsError as refused:
        session.rollback()
        request.state.user = None  # the page as GET /logout shows it: one "Sign out" button, the form's
        return _logout_page(request, session, user.id, status=refused.status_code, error=refused.message)
    staff_service.sign_out(session, user.id, actor=actor)
    response = RedirectResponse("/login", status_code=303)
    end_session(response)
    logger.info("%s signed out of the web UI from %s", user.username, client_address(request))
    return response


def _held_choice(held_ticket: str, transfer_to: str) -> HeldChoice | None:
    """The sign-out form's choice: held_ticket complete | requeue | transfer, transfer_to "service:ID" or
    "counter:ID"."""
    if held_ticket not in ("", "complete", "requeue", "transfer"):
        raise ValidationFailed("Choose what happens to the ticket: complete, requeue or transfer.")
    if not held_ticket:
        return None
    if held_ticket != "transfer":
        return HeldChoice.of(held_ticket)  # type: ignore[arg-type]  # checked just above
    kind, _, raw = transfer_to.partition(":")
    if kind not in ("service", "counter") or not raw.isdigit():
        raise ValidationFailed("Choose where to transfer the ticket: a service or an open counter.")
    if kind == "service":
        return HeldChoice.of("transfer", to_service_id=int(raw))
    return HeldChoice.of("transfer", to_counter_id=int(raw))


def _kiosk_status(session: Any, branch_id: int | None) -> list[dict[str, Any]]:
    return [
        {"id": d.id, "name": d.name, "status": d.status, "revoked": d.revoked_at is not None}
        for d in list_devices(session, branch_id=branch_id)
        if d.kind == DeviceKind.kiosk and d.revoked_at is None
    ]


@router.get("/staff")
def workspace(request: Request, user: ReceptionPage, session: ReadSessionDep, settings: SettingsDep) -> Response:
    """The counter workspace. The page is a shell: its script fetches the queue from the REST API and follows
    the event stream, and every button calls the same REST API the other clients use."""
    branch = get_branch(session, page_branch(request))
    services = [service_public(s, branch) for s in list_services(session, branch_id=branch.id)]
    counters = [counter_public(session, c) for c in list_counters(session, branch_id=branch.id)]
    can_call = Role(user.role).rank >= Role.staff.rank
    config = {
        "user": {"id": user.id, "name": user.full_name or user.username, "role": user.role},
        # Reception issues tickets and sees the queue; calling needs the staff role.
        "can_call": can_call,
        "shortcuts": user.shortcuts_enabled,
        "undo_seconds": settings.undo_seconds,
        # Staff may give any of the branch's named priority categories (the kiosk only those marked on_kiosk).
        "priority_categories": [
            {"key": key, "label": label} for key, label in category_labels(branch.settings).items()
        ],
        "last_counter_id": user.last_counter_id if can_call else None,
        "counters": counters,
        "services": services,
        "kiosks": _kiosk_status(session, branch.id),
        # The Reprint button appears when the printing part of the API is installed.
        "reprint": any(getattr(r, "path", "") == REPRINT_PATH for r in request.app.routes),
    }
    return render(
        request,
        "staff.html",
        {
            "title": "Counter" if can_call else "Reception",
            "branch": branch_public(branch),
            "config": config,
            "counters": counters,
            "pause_reasons": [(r.value, PAUSE_LABELS[r]) for r in PauseReason],
        },
    )


@router.get("/dashboard")
def dashboard(request: Request, _: ManagerPage, session: ReadSessionDep, settings: SettingsDep) -> Response:
    """Live overview for managers: queues, longest waits, open counters and who sits there, served today."""
    branch_id = page_branch(request)
    snapshot = queue_snapshot(session, settings=settings, branch_id=branch_id)
    extras = _dashboard_extras(session, snapshot, branch_id)
    return render(request, "dashboard.html", {"title": "Dashboard", "q": snapshot, **extras})


@router.get("/dashboard/live")
def dashboard_live(request: Request, _: ManagerPage, session: ReadSessionDep, settings: SettingsDep) -> Response:
    """The dashboard's body alone; the page swaps it in when the event stream reports a change."""
    branch_id = page_branch(request)
    snapshot = queue_snapshot(session, settings=settings, branch_id=branch_id)
    return render(request, "_dashboard_body.html", {"q": snapshot, **_dashboard_extras(session, snapshot, branch_id)})


def _dashboard_extras(session: Any, snapshot: dict[str, Any], branch_id: int | None) -> dict[str, Any]:
    """Kiosk printers, stranded tickets and the open counters free to take one (for "Reassign to")."""
    free = [c for c in snapshot["counters"] if c["is_open"] and c["ticket"] is None]
    return {
        "kiosks": _kiosk_status(session, branch_id),
        "stranded": stranded_tickets(session, branch_id=branch_id),
        "free_counters": free,
        "paused_webhooks": [e.url for e in paused_endpoints(session)],
    }
