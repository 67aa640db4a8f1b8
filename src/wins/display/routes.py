"""Pages for the waiting-room display (/display) and the customer's phone (/t/{tracking_token}), and the
speech files the display plays. The pages are thin: they draw what the API returns and follow the event
stream; rules (who is next, estimates, what a customer may do) stay in the services."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from wins.auth import Principal, acting_in
from wins.branches.service import branch_settings, get_branch
from wins.config import Environment, Settings
from wins.db import Database
from wins.deps import BRANCH_COOKIE, PRINCIPAL_CACHE_SECONDS, principal_from_token, web_hooks, write_transaction
from wins.devices import service as devices
from wins.devices.models import Device, DeviceKind
from wins.devices.service import device_config
from wins.display import speech
from wins.display.i18n import LANGUAGE_NAMES, board_strings, phone_language, tracking_strings
from wins.errors import NotAuthenticated, NotFound, PermissionDenied, WinsError
from wins.events.access import issue_stream_ticket
from wins.htmlsafe import install_filters
from wins.logging_setup import note_user
from wins.schemas import DeviceConfig
from wins.sms import service as sms_service
from wins.staff.models import Role
from wins.staff.security import sign, unsign
from wins.tickets import views
from wins.tickets.views import tracking_view

logger = logging.getLogger(__name__)
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
install_filters(templates.env)
router = APIRouter(include_in_schema=False)

COOKIE = "wins_display"
KIOSK_COOKIE = "wins_kiosk"  # a web kiosk's pairing cookie (wins.webkiosk)
COOKIE_SECONDS = 400 * 24 * 3600  # browsers cap cookies at 400 days
PAIRING_PURPOSE = "display-pairing"
NO_STORE = {"Cache-Control": "no-store"}


def _settings(request: HTTPConnection) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _db(request: HTTPConnection) -> Database:
    db: Database = request.app.state.db
    return db


def _session_principal(request: Request) -> Principal | None:
    """A manager signed in to the staff web UI (wins.web installs this hook), or None."""
    hook = web_hooks(request).session_principal
    principal: Principal | None = hook(request) if hook is not None else None
    return principal


def _display_principal(request: Request, cookie: str | None) -> Principal:
    """The display the pairing cookie names (read afresh), else a manager's web session; else refused. A manager
    sees the board of the branch they act in (the workspace's picker, else their first branch) and needs the
    manager role in *that* branch. Not `?branch=`: the board's own REST calls and stream send only the cookie,
    so the page and its data always show one branch."""
    if not cookie:
        principal = _session_principal(request)
        if principal is None:
            raise NotAuthenticated("This screen is not paired yet.")
        principal = acting_in(principal, None, remembered=request.cookies.get(BRANCH_COOKIE))
        principal.require_staff(Role.manager)
        return principal
    return cookie_principal(request, cookie, fresh=True)


def pairing_cookie(settings: Settings, device: Device) -> str:
    """The display's HttpOnly cookie: signed, naming the device and the token it has now. It is not the token
    (which never leaves the server here), and a new token or a revoke voids it, on every screen paired."""
    return sign(settings.effective_secret_key, PAIRING_PURPOSE, {"did": device.id, "th": device.token_hash[:16]})


def cookie_principal(
    request: HTTPConnection, value: str, *, fresh: bool = False, kind: DeviceKind = DeviceKind.display
) -> Principal:
    """The display a pairing cookie stands for (NotAuthenticated if revoked, re-tokened or forged). `fresh`
    skips the few-seconds principal cache: the page itself must say "not paired" right after a revoke."""
    cache: dict[str, tuple[float, Principal]] = request.app.state.principal_cache
    if value.startswith("wdt_"):  # a cookie from before pairing links: the device token itself
        if fresh:
            cache.pop(value, None)
        principal = principal_from_token(request, value)
    else:
        now = time.monotonic()
        hit = cache.get("cookie:" + value)
        if hit is not None and hit[0] > now and not fresh:
            note_user(hit[1].label)  # for the access line
            return hit[1]
        settings = _settings(request)
        data = unsign(settings.effective_secret_key, PAIRING_PURPOSE, value, max_age=COOKIE_SECONDS)
        device = None
        if data is not None and isinstance(data.get("did"), int):
            with _db(request).session(write=False) as session:
                device = session.get(Device, data["did"])
        if (
            device is None
            or device.revoked_at is not None
            or not device.token_hash.startswith(str(data and data["th"]))
        ):
            raise NotAuthenticated("This display was revoked or given a new token; it needs pairing again.")
        principal = Principal(device=device)
        if len(cache) > 10000:
            cache.clear()
        cache["cookie:" + value] = (now + PRINCIPAL_CACHE_SECONDS, principal)
        note_user(principal.label)  # for the access line
    if principal.device is None or principal.device.kind != kind:
        raise PermissionDenied(f"This screen's sign-in is not a {kind}'s.")
    return principal


def device_cookie_principal(conn: HTTPConnection) -> Principal | None:
    """Hook for `wins.deps.get_principal`: a paired board reads (GET/HEAD only, so its cookie cannot change
    anything) with its pairing cookie; a paired web kiosk (wins.webkiosk) calls the API with its own cookie
    plus `X-Requested-With: wins-kiosk`, a header a cross-site page cannot send without a CORS preflight
    (never granted here), so the cookie alone cannot issue tickets from another site."""
    if conn.scope.get("method") in ("GET", "HEAD") and (value := conn.cookies.get(COOKIE)):
        return cookie_principal(conn, value)
    if conn.headers.get("x-requested-with") == "wins-kiosk" and (value := conn.cookies.get(KIOSK_COOKIE)):
        return cookie_principal(conn, value, kind=DeviceKind.kiosk)
    return None


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(NO_STORE)
    return response


def _message(request: Request, title: str, text: str, status: int) -> HTMLResponse:
    return _page(request, "message.html", {"title": title, "text": text}, status)


# -- display board ----------------------------------------------------------------------------------


PAIR_HOW = (
    "Open the pairing link an admin gives you on this screen (Admin › Devices › Pairing link, or "
    "`wins devices pair NAME` on the server). The link works once, for a few minutes."
)


@router.get("/display")
def display(
    request: Request,
    token: Annotated[str | None, Query(max_length=512)] = None,
    pair: Annotated[str | None, Query(max_length=128)] = None,
    cookie_token: Annotated[str | None, Cookie(alias=COOKIE)] = None,
) -> Response:
    if token is not None:
        # A display token lives forever; in an address it lands in proxy and server access logs and in the
        # browser history. Pairing takes a one-time link instead (docs/security.md).
        text = f"Pairing with a token in the address is no longer accepted (addresses end up in logs). {PAIR_HOW}"
        return _message(request, "This screen cannot be paired this way", text, 400)
    if pair is not None:
        return _pair(request, pair)
    try:
        principal = _display_principal(request, cookie_token)
    except WinsError as exc:
        response = _message(request, "Display not paired", f"{PAIR_HOW} ({exc.message})", exc.status_code)
        if cookie_token:
            response.delete_cookie(COOKIE, path="/")
        return response
    page_config = _page_config(request, principal)
    return _page(
        request,
        "display.html",
        {"config": page_config, "title": page_config["title"], "layout": page_config["layout"]},
    )


def _pair(request: Request, code: str) -> Response:
    """Exchange a one-time pairing code for the display's HttpOnly cookie, then leave the address at once."""
    return pairing_redirect(request, code, kind=DeviceKind.display, cookie=COOKIE, path="/display")


def pairing_redirect(request: Request, code: str, *, kind: DeviceKind, cookie: str, path: str) -> Response:
    """Pair a screen (a display, or a web kiosk: wins.webkiosk) with a one-time pairing code: the code is used
    up, the screen gets an HttpOnly cookie naming its device (pairing_cookie), and the browser is sent on to
    `path` at once, so the used code leaves the address bar and history. The one place pairing happens."""
    db = _db(request)
    try:
        with db.session() as session:  # its own transaction: the code is used up even if pairing fails
            device_id = devices.use_pairing_code(session, code)
        with db.session() as session:
            device = devices.pair_display(session, device_id)
            if device.kind != kind:
                raise PermissionDenied(f"This pairing link is for a {device.kind}, not a {kind}.")
    except WinsError as exc:
        return _message(request, "This screen cannot be paired", exc.message, exc.status_code)
    # 303 to the bare address: the (now used) code leaves the address bar and history at once.
    redirect = RedirectResponse(path, status_code=303)
    redirect.set_cookie(
        cookie,
        pairing_cookie(_settings(request), device),
        max_age=COOKIE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=_settings(request).env == Environment.production,
        path="/",
    )
    return redirect


@router.post("/display/stream-ticket")
async def display_stream_ticket(
    request: Request, cookie_token: Annotated[str | None, Cookie(alias=COOKIE)] = None
) -> Response:
    """A one-time connect ticket for the board's event WebSocket, for the holder of the display's HttpOnly
    cookie (or a manager's web session, with its CSRF header). 401 once the display is revoked: the page then
    reloads and shows "Display not paired"."""
    # Against cross-site requests: a custom header cannot be sent cross-origin without a CORS preflight,
    # which this server never grants (and the SameSite=Lax cookie is not sent on a cross-site POST anyway).
    if request.headers.get("x-requested-with") != "wins-display":
        return JSONResponse({"detail": "Missing X-Requested-With: wins-display."}, status_code=403, headers=NO_STORE)
    settings = _settings(request)
    try:
        principal = await run_in_threadpool(_display_principal, request, cookie_token)
        ticket = await write_transaction(
            _db(request),
            lambda session: issue_stream_ticket(session, principal, seconds=settings.stream_ticket_seconds),
        )
    except WinsError as exc:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=NO_STORE)
    return JSONResponse({"ticket": ticket, "expires_in": settings.stream_ticket_seconds}, headers=NO_STORE)


def _page_config(request: Request, principal: Principal) -> dict[str, Any]:
    """What the display script needs, from the device's `config` (set by an admin) and the branch."""
    with _db(request).session(write=False) as session:
        # Read the device afresh: the principal may come from a cache a few seconds old.
        device = session.get(Device, principal.device.id) if principal.device else None
        branch = get_branch(session, device.branch_id if device else principal.branch_id)
        # Both read through their schemas: a bad stored value falls back to its default instead of breaking the page.
        languages = [lang for lang in branch_settings(branch).languages if lang in speech.LANGUAGES]
        branch_name = branch.name
        time_zone = branch.timezone
        config = device_config(device) if device else DeviceConfig()
    board_languages = [lang for lang in config.languages or languages if lang in speech.LANGUAGES] or ["en"]
    page_config: dict[str, Any] = {
        "languages": board_languages,
        "supported_languages": sorted(speech.LANGUAGES),
        "services": config.services,
        "counters": config.counters,
        "layout": config.layout,
        "history": config.history,
        "speech": config.speech,
        "chime_url": request.url_for("display_static", path="chime.wav").path,
        "title": config.title or branch_name,
        # The clock shows the branch's time in its first language, whatever the TV's own zone and locale.
        "time_zone": time_zone,
        "locale": board_languages[0],
        "strings": board_strings(board_languages),
        "phrases": speech.phrase_table(sorted(speech.LANGUAGES)),
        # Part of the version: a board still running the script that put its token in the socket URL reloads.
        "stream_auth": "ticket",
    }
    # The page reloads itself when this changes (an admin edited the display's settings).
    page_config["version"] = hashlib.sha256(json.dumps(page_config, sort_keys=True).encode()).hexdigest()[:16]
    # No token in the page: the board's REST calls carry its HttpOnly pairing cookie (read-only requests only,
    # wins.deps), and its WebSocket a one-time ticket from POST /display/stream-ticket. A manager's browser
    # uses its session cookie; the ticket request needs that session's CSRF token, so it is embedded.
    csrf_hook = web_hooks(request).session_csrf
    page_config["csrf"] = csrf_hook(request) if principal.staff is not None and csrf_hook is not None else None
    return page_config


@router.get("/display/config")
def display_config(request: Request, cookie_token: Annotated[str | None, Cookie(alias=COOKIE)] = None) -> Response:
    """The display's current settings version (the page polls it to pick up changes)."""
    try:
        principal = _display_principal(request, cookie_token)
    except WinsError as exc:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=NO_STORE)
    return JSONResponse({"version": _page_config(request, principal)["version"]}, headers=NO_STORE)


@router.get("/display/speech/{lang}/{number}/{counter}.wav", name="display_speech")
async def display_speech(
    request: Request,
    lang: str,
    number: str,
    counter: str,
    cookie_token: Annotated[str | None, Cookie(alias=COOKIE)] = None,
) -> Response:
    """A spoken announcement as WAV. Only for a paired display or signed-in staff, only ticket phrases."""
    auth = request.headers.get("authorization", "")
    bearer = auth[7:] if auth.lower().startswith("bearer ") else None
    try:
        if bearer:
            principal = await run_in_threadpool(principal_from_token, request, bearer)
        elif cookie_token:
            principal = await run_in_threadpool(cookie_principal, request, cookie_token)
        else:
            session_principal = await run_in_threadpool(_session_principal, request)
            if session_principal is None:
                raise NotAuthenticated("Pair this display or sign in first.")
            principal = session_principal
        if principal.staff is None and (principal.device is None or principal.device.kind != DeviceKind.display):
            raise PermissionDenied("Only a display or staff can fetch announcements.")
        cache: speech.SpeechCache = request.app.state.speech_cache
        path = await run_in_threadpool(cache.path_for, lang, number, counter)
    except WinsError as exc:
        return Response(exc.message, status_code=exc.status_code, media_type="text/plain")
    return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "private, max-age=86400"})


# -- tracking page ----------------------------------------------------------------------------------


@router.get("/t/{tracking_token}")
def track(request: Request, tracking_token: str, lang: Annotated[str | None, Query(max_length=16)] = None) -> Response:
    return _track_page(request, tracking_token, lang=lang)


def _track_page(
    request: Request, tracking_token: str, *, lang: str | None = None, sms_error: str = "", status: int = 200
) -> Response:
    accept = request.headers.get("accept-language")
    chosen = phone_language(accept, lang)
    strings = tracking_strings(chosen)
    if len(tracking_token) > 64:
        return _message(request, strings["missing_title"], strings["missing_text"], 404)
    settings = _settings(request)
    with _db(request).session(write=False) as session:
        try:
            ticket = views.get_by_tracking_token(session, tracking_token)
        except NotFound:
            return _message(request, strings["missing_title"], strings["missing_text"], 404)
        view = tracking_view(session, ticket, settings)
        sms = sms_service.sms_status(session, ticket, settings)  # never the number: its last 2 digits at most
        # The switch's choice, else the language the ticket was taken in, else the browser's.
        chosen = phone_language(accept, lang, ticket.language)
        strings = tracking_strings(chosen)
    config = {
        "token": tracking_token,
        "ticket": view,
        "strings": strings,
        "chime_url": request.url_for("display_static", path="chime.wav").path,
    }
    switch = [
        {"code": code, "name": name, "href": f"?lang={code}", "current": code == chosen}
        for code, name in LANGUAGE_NAMES.items()
    ]
    return _page(
        request,
        "track.html",
        {
            "t": view, "s": strings, "lang": chosen, "config": config, "switch": switch,
            "sms": sms, "sms_error": sms_error,
        },
        status,
    )  # fmt: skip


@router.post("/t/{tracking_token}/sms")
async def track_sms(request: Request, tracking_token: str) -> Response:
    """The tracking page's "Text me" form: keep the number (encrypted) and come back to the page."""
    form = await request.form()
    phone = form.get("phone")
    language = form.get("language")
    settings = _settings(request)

    def work(session: Session) -> None:
        ticket = sms_service.ticket_by_token(session, tracking_token)
        sms_service.subscribe(
            session, ticket, phone=phone if isinstance(phone, str) else "",
            language=language if isinstance(language, str) else "en", settings=settings,
        )  # fmt: skip

    try:
        await write_transaction(_db(request), work)
    except WinsError as exc:  # the page again, with what to do; the number typed is not echoed back
        lang = language if isinstance(language, str) else None
        return _track_page(request, tracking_token, lang=lang, sms_error=exc.message, status=exc.status_code)
    return RedirectResponse(f"/t/{tracking_token}#sms", status_code=303)


@router.post("/t/{tracking_token}/sms/stop")
async def track_sms_stop(request: Request, tracking_token: str) -> Response:
    """The tracking page's "Stop texts" button: the number is erased now."""

    def work(session: Session) -> None:
        ticket = sms_service.ticket_by_token(session, tracking_token)
        sms_service.erase(session, ticket_ids=[ticket.id])

    try:
        await write_transaction(_db(request), work)
    except WinsError as exc:
        return _track_page(request, tracking_token, sms_error=exc.message, status=exc.status_code)
    return RedirectResponse(f"/t/{tracking_token}#sms", status_code=303)
