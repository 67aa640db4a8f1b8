"""The web kiosk (/kiosk): the ticket kiosk as a page, for an Android tablet or an iPad in kiosk mode.

Paired like a display: an admin's one-time pairing link (`/kiosk?pair=…`, from Admin › Devices or `wins devices
pair NAME`) gives the tablet an HttpOnly cookie naming its kiosk device; no token is ever in a URL or in the page.
The page calls the API with that cookie and `X-Requested-With: wins-kiosk` (see
wins.display.routes.device_cookie_principal). It issues tickets through the same REST API as the Kivy kiosk,
with the same words (wins_kiosk.i18n), keys (wins_kiosk.guidance) and timeouts;
slips print on the branch's network printer through the server.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from wins.auth import Principal
from wins.branches.service import get_branch
from wins.config import Settings
from wins.db import Database
from wins.deps import principal_from_token
from wins.devices.models import Device, DeviceKind
from wins.display.routes import KIOSK_COOKIE, cookie_principal, pairing_redirect
from wins.errors import NotAuthenticated, PermissionDenied, WinsError
from wins.htmlsafe import install_filters
from wins.qr import qr_svg
from wins.tickets import views as tickets
from wins.tickets.views import tracking_url
from wins.webkiosk.printing import TabletPrinting
from wins_kiosk.guidance import KEYS, LONG_PRESS_SECONDS
from wins_kiosk.i18n import CATALOGUE, DEFAULT_LANGUAGE, LANGUAGE_NAMES, supported

logger = logging.getLogger(__name__)
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
install_filters(templates.env)
router = APIRouter(include_in_schema=False)

COOKIE = KIOSK_COOKIE
PAIR_HOW = (
    "Open the pairing link an admin gives you on this tablet (Admin › Devices › Pairing link on the kiosk's "
    "row, or `wins devices pair NAME` on the server). The link works once, for a few minutes."
)
NO_STORE = {"Cache-Control": "no-store"}
# No inline script or style: an injected tag does nothing. Only our own files, no frames, no forms.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
)
IDLE_SECONDS = 45.0
RESULT_SECONDS = 12.0
WARNING_SECONDS = 15.0


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def kiosk_principal(request: Request, cookie: str | None) -> Principal:
    """The kiosk device of a Bearer token (the Kivy kiosk) or of the tablet's pairing cookie (read afresh, so a
    revoke shows at once); anything else is refused."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        principal = principal_from_token(request, auth[7:])
        if principal.device is None or principal.device.kind != DeviceKind.kiosk:
            raise PermissionDenied("This token does not belong to a kiosk.")
        return principal
    if not cookie:
        raise NotAuthenticated("This tablet is not paired yet.")
    return cookie_principal(request, cookie, fresh=True, kind=DeviceKind.kiosk)


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(NO_STORE)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/kiosk")
def kiosk_page(
    request: Request,
    token: Annotated[str | None, Query(max_length=512)] = None,
    pair: Annotated[str | None, Query(max_length=128)] = None,
    cookie_token: Annotated[str | None, Cookie(alias=COOKIE)] = None,
) -> Response:
    if token is not None:
        # A kiosk token lives until revoked; in an address it lands in access logs and browser history.
        text = f"Pairing with a token in the address is not accepted (addresses end up in logs). {PAIR_HOW}"
        return _page(request, "message.html", {"title": "This tablet cannot be paired this way", "text": text}, 400)
    if pair is not None:
        return pairing_redirect(request, pair, kind=DeviceKind.kiosk, cookie=COOKIE, path="/kiosk")
    try:
        principal = kiosk_principal(request, cookie_token)
    except WinsError as exc:
        text = f"{PAIR_HOW} ({exc.message})"
        response = _page(request, "message.html", {"title": "Kiosk not paired", "text": text}, exc.status_code)
        if cookie_token:
            response.delete_cookie(COOKIE, path="/")
        return response
    config = page_config(request, principal)
    return _page(request, "kiosk.html", {"config": config, "lang": config["default_language"]})


def page_config(request: Request, principal: Principal) -> dict[str, Any]:
    """What the page script needs: words, keys, timeouts, whether the server prints."""
    assert principal.device is not None
    with _db(request).session(write=False) as session:
        device = session.get(Device, principal.device.id)
        assert device is not None
        branch = get_branch(session, device.branch_id)
        device_config = dict(device.config or {})
        branch_languages = [str(code) for code in branch.settings.get("kiosk_languages") or []]
        name = device.name
        # The device's own branch's printer, not the first branch's (each branch sets its own printer_url).
        has_printer = TabletPrinting.printer_configured(branch, _settings(request))
    languages = supported([str(c) for c in device_config.get("languages") or branch_languages or [DEFAULT_LANGUAGE]])
    default = str(device_config.get("default_language") or languages[0])
    if default not in languages:
        languages.insert(0, default if default in CATALOGUE else DEFAULT_LANGUAGE)
        default = languages[0]
    idle = float(device_config.get("idle_timeout_seconds") or IDLE_SECONDS)
    return {
        "device_id": principal.device.id,
        "name": name,
        "languages": languages,
        "default_language": default,
        "language_names": {code: LANGUAGE_NAMES.get(code, code) for code in languages},
        "texts": {code: CATALOGUE[code] for code in languages},
        "keys": {name: action.value for name, action in KEYS.items()},
        "idle_seconds": idle,
        "result_seconds": float(device_config.get("result_seconds") or RESULT_SECONDS),
        "warning_seconds": WARNING_SECONDS,
        "long_press_seconds": LONG_PRESS_SECONDS,
        "printer": has_printer,
    }


def _base_url(request: Request) -> str:
    return (_settings(request).public_url or str(request.base_url)).rstrip("/")


@router.get("/kiosk/qr/{ticket_id}.svg")
def ticket_qr(
    request: Request, ticket_id: int, cookie_token: Annotated[str | None, Cookie(alias=COOKIE)] = None
) -> Response:
    """The QR code of a ticket's tracking link, drawn by the server (no script library, no CDN)."""
    try:
        principal = kiosk_principal(request, cookie_token)
        assert principal.device is not None
        with _db(request).session(write=False) as session:
            ticket = tickets.get_ticket(session, ticket_id)
            if ticket.issued_by_device_id != principal.device.id:
                raise PermissionDenied("A kiosk shows only the tickets it issued.")
            link = tracking_url(_base_url(request), ticket.tracking_token)
    except WinsError as exc:
        return Response(exc.message, status_code=exc.status_code, media_type="text/plain", headers=NO_STORE)
    return Response(qr_svg(link), media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=600"})


@router.post("/kiosk/tickets/{ticket_id}/print")
async def print_ticket(request: Request, ticket_id: int) -> JSONResponse:
    """Print the slip of a ticket this kiosk just issued on the branch's printer. A fault answers 200 with
    ok=false (the slip waits in the server's spool and staff see the printer's state); asking again for the
    same ticket returns the first answer and prints nothing more."""
    cookie = request.cookies.get(COOKIE)
    if not request.headers.get("authorization") and request.headers.get("x-requested-with") != "wins-kiosk":
        # The cookie alone may not print: a cross-site form can send a cookie, never this header.
        return JSONResponse({"detail": "Send X-Requested-With: wins-kiosk (or a Bearer kiosk token)."}, status_code=403)
    try:
        principal = await run_in_threadpool(kiosk_principal, request, cookie)
        assert principal.device is not None
        printing: TabletPrinting = request.app.state.tablet_printing
        answer = await run_in_threadpool(
            lambda: printing.print_ticket(
                _db(request),
                ticket_id=ticket_id,
                device_id=principal.device.id,  # type: ignore[union-attr]
                settings=_settings(request),
                base_url=_base_url(request),
            )
        )
    except WinsError as exc:
        return JSONResponse({"detail": exc.message, "code": exc.code}, status_code=exc.status_code)
    return JSONResponse(answer, headers=NO_STORE)
