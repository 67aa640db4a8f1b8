"""The public join pages (/join, /join/b/{branch_id}, /join/{service_id}) and the join link of each branch for its
display board and poster. The words are in wins.display.i18n (one home for every customer-facing screen)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from wins.auth import Principal, client_address
from wins.branches.models import Branch
from wins.branches.service import branch_settings, get_branch
from wins.deps import (
    ManagerDep,
    ObjectId,
    PrincipalDep,
    PublicBaseUrlDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
)
from wins.devices.models import DeviceKind
from wins.display.i18n import LANGUAGE_NAMES, join_strings, phone_language
from wins.errors import NotFound, PermissionDenied, WinsError
from wins.htmlsafe import install_filters
from wins.join import service
from wins.qr import qr_svg
from wins.schemas import ServiceRemotePublic, ServiceRemoteUpdate, fields_of
from wins.staff.models import Role
from wins.tickets import arrival
from wins.tickets.models import Ticket, TicketStatus
from wins.tickets.views import get_by_tracking_token
from wins.wait_text import wait_range_text
from wins.web.pages import ManagerPage, page_actor, render

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
install_filters(templates.env)
router = APIRouter(include_in_schema=False)
api = APIRouter(tags=["join"])


# The phone's own remote ticket, so scanning the waiting room's QR code again offers "I'm here" (arrival check-in)
# for it. Only the /join pages read it; the tracking token is the ticket's key, as in its /t/ link.
TICKET_COOKIE = "wins_ticket"


def _own_ticket(request: Request, session: Any) -> Ticket | None:
    token = request.cookies.get(TICKET_COOKIE) or ""
    if not token or len(token) > 64:
        return None
    try:
        ticket = get_by_tracking_token(session, token)
    except NotFound:
        return None
    return ticket if ticket.status == TicketStatus.waiting else None


def _language(request: Request, chosen: str | None = None) -> str:
    return phone_language(request.headers.get("accept-language"), chosen or request.query_params.get("lang"))


def _said(exc: WinsError, lang: str) -> str:
    """A refusal in the customer's language where the page has the words for it, else the service's message."""
    return join_strings(lang).get(f"error_{exc.code}", exc.message)


def _respond(request: Request, context: dict[str, Any], *, lang: str, status: int = 200) -> Response:
    path = request.url.path
    keep = {name: value for name, value in request.query_params.items() if name == "k"}
    switch = [
        {"code": code, "name": name, "href": path + "?" + urlencode({**keep, "lang": code}), "current": code == lang}
        for code, name in LANGUAGE_NAMES.items()
    ]
    context = {"lang": lang, "s": join_strings(lang), "switch": switch, **context}
    response = templates.TemplateResponse(request, "join.html", context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(request: Request, session: Any, settings: Any, *, branch: Branch, only: int | None, key: str | None,
          lang: str, error: str = "", status: int = 200) -> Response:  # fmt: skip
    options = branch_settings(branch)
    key = service.normalise_key(key)
    if options.join_key_required and key:
        try:  # a mistyped or stale code: say so at once, and ask for it again
            service.check_key(key, secret=settings.effective_secret_key, branch_id=branch.id,
                              minutes=settings.join_key_minutes)  # fmt: skip
        except WinsError as exc:
            key = ""
            if not error:
                error, status = _said(exc, lang), exc.status_code
    services = []
    if options.remote_join:
        services = service.open_services(session, branch=branch, settings=settings, only=only)
    for listed in services:
        listed["wait"] = wait_range_text(listed["low"], listed["high"], lang)
    own = _own_ticket(request, session)
    context = {
        "own": own,
        "own_needs_checkin": own is not None and own.checkin_required and own.checked_in_at is None,
        "branch": branch.name,
        "offered": options.remote_join,
        "key_required": options.join_key_required,
        "services": services,
        "key": key or "",
        "error": error,
    }
    return _respond(request, context, lang=lang, status=status)


@router.get("/join")
def join_page(request: Request, session: ReadSessionDep, settings: SettingsDep, k: str | None = None) -> Response:
    """The services a customer can join from their phone now, with their wait; with several branches, the
    branches offering it, to pick from."""
    lang = _language(request)
    if not service.several_branches(session):
        return _page(request, session, settings, branch=get_branch(session), only=None, key=k, lang=lang)
    offering = service.join_branches(session)
    if len(offering) == 1:  # nothing to pick: that branch's page at once
        return _page(request, session, settings, branch=offering[0], only=None, key=k, lang=lang)
    branches = [{"name": branch.name, "href": f"/join/b/{branch.id}?" + urlencode({"lang": lang})}
                for branch in offering]  # fmt: skip
    return _respond(request, {"branches": branches, "offered": bool(branches), "picking": True}, lang=lang)


@router.get("/join/b/{branch_id}")
def join_branch_page(
    request: Request, branch_id: ObjectId, session: ReadSessionDep, settings: SettingsDep, k: str | None = None
) -> Response:
    """One branch's join page (the address its display board and poster show when there are several)."""
    branch = get_branch(session, branch_id)
    return _page(request, session, settings, branch=branch, only=None, key=k, lang=_language(request))


@router.post("/join/check-in")
async def join_check_in(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """ "I'm here" for the phone's own remote ticket, from the join page the waiting room's QR code opens (its
    link carries the current key: the proof of being on site). Goes on to the ticket's tracking page. (Declared
    before /join/{service_id}, which would take its address.)"""
    form = await request.form()
    key = form.get("k")
    key = key if isinstance(key, str) else ""
    lang = _language(request)
    own = _own_ticket(request, session)
    try:
        if own is None:
            raise NotFound("This phone holds no waiting ticket. Open your ticket's page and tap \"I'm here\" there.")
        ticket = arrival.check_in_by_customer(session, tracking_token=own.tracking_token, code=key, settings=settings)
    except WinsError as exc:
        session.rollback()
        branch = get_branch(session, own.branch_id) if own is not None else get_branch(session)
        return _page(request, session, settings, branch=branch, only=None, key=key, lang=lang, error=exc.message,
                     status=exc.status_code)  # fmt: skip
    return RedirectResponse(f"/t/{ticket.tracking_token}", status_code=303)


@router.get("/join/{service_id}")
def join_service_page(
    request: Request, service_id: ObjectId, session: ReadSessionDep, settings: SettingsDep, k: str | None = None
) -> Response:
    branch = service.branch_of_service(session, service_id)
    return _page(request, session, settings, branch=branch, only=service_id, key=k, lang=_language(request))


@router.post("/join/{service_id}")
async def join_service(request: Request, service_id: ObjectId, session: SessionDep, settings: SettingsDep) -> Response:
    """Take a ticket for this service (the same issuing as the kiosk) and go to its tracking page."""
    form = await request.form()
    key = form.get("k")
    chosen = form.get("lang")
    lang = _language(request, chosen if isinstance(chosen, str) else None)
    try:
        ticket = service.join(
            session, service_id=service_id, key=key if isinstance(key, str) else None,
            client=client_address(request), settings=settings, language=lang,
        )  # fmt: skip
    except WinsError as exc:
        session.rollback()
        try:
            branch = service.branch_of_service(session, service_id)
        except WinsError:
            branch = get_branch(session)
        return _page(request, session, settings, branch=branch, only=None, lang=lang,
                     key=key if isinstance(key, str) else None, error=_said(exc, lang),
                     status=exc.status_code)  # fmt: skip
    response = RedirectResponse(f"/t/{ticket.tracking_token}", status_code=303)
    response.set_cookie(
        TICKET_COOKIE, ticket.tracking_token, max_age=24 * 3600, path="/join", httponly=True, samesite="lax",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


def _link(session: Any, principal: Principal, settings: Any, base_url: str) -> dict[str, Any]:
    """The join link of the caller's branch: a display's own, a manager's acting branch (head office picks one
    with the branch picker or X-WINS-Branch), with its QR code as an image the page can show inline."""
    branch = get_branch(session, principal.branch_id)
    link = service.join_link(session, branch=branch, settings=settings, base_url=base_url)
    link["qr"] = "data:image/svg+xml;base64," + base64.b64encode(qr_svg(link["url"]).encode()).decode()
    return link


def _screen_or_manager(principal: Principal) -> None:
    device = principal.device
    if device is not None and device.kind == DeviceKind.display:
        return
    if principal.staff is not None and (principal.role or Role.reception).rank >= Role.manager.rank:
        return
    raise PermissionDenied("The join link is for the display board and managers of this branch.")


@api.get("/join/link")
def join_link(
    principal: PrincipalDep, session: ReadSessionDep, settings: SettingsDep, base_url: PublicBaseUrlDep
) -> dict[str, Any]:
    """The current join link of the caller's branch for the waiting-room display's QR code (display or
    manager): with the rotating key and its short `code` when the branch requires one, and when that key
    expires (fetch it again then); `qr` is the QR code as an SVG data: URL."""
    _screen_or_manager(principal)
    return _link(session, principal, settings, base_url)


@api.get(
    "/join/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The join link as a QR code (SVG)"}},
)
def join_qr(
    principal: PrincipalDep, session: ReadSessionDep, settings: SettingsDep, base_url: PublicBaseUrlDep
) -> Response:
    """The current join link of the caller's branch as a QR code (SVG), for the display board (display or
    manager)."""
    _screen_or_manager(principal)
    branch = get_branch(session, principal.branch_id)
    url = service.join_link(session, branch=branch, settings=settings, base_url=base_url)["url"]
    return Response(qr_svg(url), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get("/admin/join-poster")
def poster(
    request: Request, _: ManagerPage, session: ReadSessionDep, settings: SettingsDep, base_url: PublicBaseUrlDep
) -> Response:
    """A printable poster with the join link's QR code of the manager's acting branch (manager)."""
    link = _link(session, page_actor(request), settings, base_url)
    return render(request, "admin/join_poster.html", {"title": "Join poster", "link": link})


@api.get("/services/{service_id}/remote", response_model=ServiceRemotePublic)
def get_remote(service_id: ObjectId, _: ManagerDep, session: ReadSessionDep) -> dict[str, Any]:
    """A service's remote settings: the push threshold, the daily cap of remote tickets, arrival check-in and its
    grace time (manager)."""
    return fields_of(ServiceRemotePublic, service.remote_settings(session, service_id, must_exist=True))


@api.put("/services/{service_id}/remote", response_model=ServiceRemotePublic)
def put_remote(
    service_id: ObjectId, body: ServiceRemoteUpdate, principal: ManagerDep, session: SessionDep
) -> dict[str, Any]:
    """Set a service's push threshold (`notify_ahead`), daily cap of remote tickets, and arrival check-in with its
    grace time (manager). Every field is set: send the ones you keep as they are too."""
    row = service.set_remote(
        session,
        service_id,
        notify_ahead=body.notify_ahead,
        remote_daily_cap=body.remote_daily_cap,
        arrival_checkin=body.arrival_checkin,
        checkin_grace_minutes=body.checkin_grace_minutes,
        actor=principal,
    )
    return fields_of(ServiceRemotePublic, row)
