"""The public join page (/join, /join/{service_id}) and the join link for the display board and the poster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from wins.auth import client_address
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
from wins.errors import NotFound, PermissionDenied, WinsError
from wins.htmlsafe import install_filters
from wins.join import service
from wins.schemas import ServiceRemotePublic, ServiceRemoteUpdate, fields_of
from wins.staff.models import Role
from wins.tickets import arrival
from wins.tickets.models import Ticket, TicketStatus
from wins.tickets.views import get_by_tracking_token
from wins.web.pages import ManagerPage, render

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
install_filters(templates.env)
router = APIRouter(include_in_schema=False)
api = APIRouter(tags=["join"])


def _minutes(seconds: int) -> int:
    return max(1, round(seconds / 60))


templates.env.filters["minutes"] = _minutes


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


def _page(request: Request, session: Any, settings: Any, *, only: int | None, key: str | None, error: str = "",
          status: int = 200) -> Response:  # fmt: skip
    branch = get_branch(session)
    options = branch_settings(branch)
    own = _own_ticket(request, session)
    context = {
        "branch": branch.name,
        "offered": options.remote_join,
        "services": service.open_services(session, settings=settings, only=only) if options.remote_join else [],
        "key": key or "",
        "error": error,
        "own": own,
        "own_needs_checkin": own is not None and own.checkin_required and own.checked_in_at is None,
    }
    response = templates.TemplateResponse(request, "join.html", context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/join")
def join_page(request: Request, session: ReadSessionDep, settings: SettingsDep, k: str | None = None) -> Response:
    """The services a customer can join from their phone now, with their wait."""
    return _page(request, session, settings, only=None, key=k)


@router.get("/join/{service_id}")
def join_service_page(
    request: Request, service_id: ObjectId, session: ReadSessionDep, settings: SettingsDep, k: str | None = None
) -> Response:
    return _page(request, session, settings, only=service_id, key=k)


@router.post("/join/check-in")
async def join_check_in(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """ "I'm here" for the phone's own remote ticket, from the join page the waiting room's QR code opens (its
    link carries the current key: the proof of being on site). Goes on to the ticket's tracking page. (Declared
    before /join/{service_id}, which would take its address.)"""
    form = await request.form()
    key = form.get("k")
    key = key if isinstance(key, str) else ""
    own = _own_ticket(request, session)
    try:
        if own is None:
            raise NotFound("This phone holds no waiting ticket. Open your ticket's page and tap \"I'm here\" there.")
        ticket = arrival.check_in_by_customer(session, tracking_token=own.tracking_token, code=key, settings=settings)
    except WinsError as exc:
        session.rollback()
        return _page(request, session, settings, only=None, key=key, error=exc.message, status=exc.status_code)
    return RedirectResponse(f"/t/{ticket.tracking_token}", status_code=303)


@router.post("/join/{service_id}")
async def join_service(request: Request, service_id: ObjectId, session: SessionDep, settings: SettingsDep) -> Response:
    """Take a ticket for this service (the same issuing as the kiosk) and go to its tracking page."""
    form = await request.form()
    key = form.get("k")
    lang = (request.headers.get("accept-language") or "en").split(",")[0].split("-")[0][:8] or None
    try:
        ticket = service.join(
            session, service_id=service_id, key=key if isinstance(key, str) else None,
            client=client_address(request), settings=settings, language=lang,
        )  # fmt: skip
    except WinsError as exc:
        session.rollback()
        return _page(request, session, settings, only=None, key=key if isinstance(key, str) else None,
                     error=exc.message, status=exc.status_code)  # fmt: skip
    response = RedirectResponse(f"/t/{ticket.tracking_token}", status_code=303)
    response.set_cookie(
        TICKET_COOKIE, ticket.tracking_token, max_age=24 * 3600, path="/join", httponly=True, samesite="lax",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


def _link(session: Any, settings: Any, base_url: str) -> dict[str, Any]:
    branch = get_branch(session)
    options = branch_settings(branch)
    url = base_url.rstrip("/") + "/join"
    expires = None
    code = None
    # The key also proves arrival (check-in): the link carries it whenever a service asks for check-in.
    if options.join_key_required or service.checkin_in_use(session, branch.id):
        minutes = settings.join_key_minutes
        url += "?k=" + service.join_key(settings.effective_secret_key, branch.id, minutes=minutes)
        code = service.arrival_code(settings.effective_secret_key, branch.id, minutes=minutes)
        expires = service.key_expires_at(minutes).isoformat()
    return {"offered": options.remote_join, "url": url, "key_required": options.join_key_required,
            "expires_at": expires, "checkin_code": code}  # fmt: skip


def _screen_or_manager(principal: Any) -> None:
    device = principal.device
    if device is not None and device.kind == DeviceKind.display:
        return
    if principal.staff is not None and Role(principal.staff.role).rank >= Role.manager.rank:
        return
    raise PermissionDenied("The join link is for the display board and managers.")


@api.get("/join/link")
def join_link(
    principal: PrincipalDep, session: ReadSessionDep, settings: SettingsDep, base_url: PublicBaseUrlDep
) -> dict[str, Any]:
    """The current join link for the waiting-room display's QR code (display or manager): with the rotating
    key when the branch requires one or a service asks for arrival check-in, and when that key expires (fetch it
    again then). `checkin_code`: the key's 6-digit short code, to show beside the QR code for typing "I'm here"."""
    _screen_or_manager(principal)
    return _link(session, settings, base_url)


@api.get(
    "/join/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The join link as a QR code (SVG)"}},
)
def join_qr(
    principal: PrincipalDep, session: ReadSessionDep, settings: SettingsDep, base_url: PublicBaseUrlDep
) -> Response:
    """The current join link as a QR code (SVG), for the display board (display or manager)."""
    _screen_or_manager(principal)
    return Response(_qr(_link(session, settings, base_url)["url"]), media_type="image/svg+xml",
                    headers={"Cache-Control": "no-store"})  # fmt: skip


def _qr(url: str) -> str:
    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    svg: bytes = code.make_image(image_factory=qrcode.image.svg.SvgPathFillImage).to_string()
    return svg.decode()


@router.get("/admin/join-poster")
def poster(
    request: Request, _: ManagerPage, session: ReadSessionDep, settings: SettingsDep, base_url: PublicBaseUrlDep
) -> Response:
    """A printable poster with the join link's QR code (manager)."""
    link = _link(session, settings, base_url)
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
