"""Pages for the waiting-room display (/display) and the customer's phone (/t/{tracking_token}), and the
speech files the display plays. The pages are thin: they draw what the API returns and follow the event
stream; rules (who is next, estimates, what a customer may do) stay in the services."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from wins.auth import Principal
from wins.branches.service import branch_settings, get_branch
from wins.config import Environment, Settings
from wins.db import Database
from wins.deps import principal_from_token, web_hooks
from wins.devices.models import Device, DeviceKind
from wins.devices.service import device_config
from wins.display import speech
from wins.display.i18n import tracking_strings
from wins.errors import NotAuthenticated, NotFound, PermissionDenied, WinsError
from wins.htmlsafe import install_filters
from wins.schemas import DeviceConfig
from wins.staff.models import Role
from wins.tickets import views
from wins.tickets.views import tracking_view

logger = logging.getLogger(__name__)
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
install_filters(templates.env)
router = APIRouter(include_in_schema=False)

COOKIE = "wins_display"
NO_STORE = {"Cache-Control": "no-store"}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _session_principal(request: Request) -> Principal | None:
    """A manager signed in to the staff web UI (wins.web installs this hook), or None."""
    hook = web_hooks(request).session_principal
    principal: Principal | None = hook(request) if hook is not None else None
    return principal


def _display_principal(request: Request, token: str | None) -> tuple[Principal, str | None]:
    """A display device token (from the cookie), else a manager's web session; anything else is refused.
    The second value is the bearer token the page script uses, None for a web session."""
    if not token:
        principal = _session_principal(request)
        if principal is None:
            raise NotAuthenticated("This screen is not paired yet.")
        principal.require_staff(Role.manager)
        return principal, None
    principal = principal_from_token(request, token)
    if principal.device is not None and principal.device.kind != DeviceKind.display:
        raise PermissionDenied("This token belongs to a kiosk, not a display.")
    if principal.staff is not None:
        principal.require_staff(Role.manager)
    return principal, token


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(NO_STORE)
    return response


def _message(request: Request, title: str, text: str, status: int) -> HTMLResponse:
    return _page(request, "message.html", {"title": title, "text": text}, status)


# -- display board ----------------------------------------------------------------------------------


@router.get("/display")
def display(
    request: Request,
    token: Annotated[str | None, Query(max_length=512)] = None,
    cookie_token: Annotated[str | None, Cookie(alias=COOKIE)] = None,
) -> Response:
    if token is not None:
        try:
            _display_principal(request, token)
        except WinsError as exc:
            return _message(request, "This screen cannot be paired", exc.message, exc.status_code)
        # Keep the token out of the address bar, history and any screenshot of the URL.
        redirect = RedirectResponse("/display", status_code=303)
        redirect.set_cookie(
            COOKIE,
            token,
            max_age=400 * 24 * 3600,  # browsers cap cookies at 400 days
            httponly=True,
            samesite="lax",
            secure=_settings(request).env == Environment.production,
            path="/",
        )
        return redirect
    try:
        principal, bearer = _display_principal(request, cookie_token)
    except WinsError as exc:
        text = (
            "Open /display?token=YOUR_DISPLAY_TOKEN once on this screen (an admin creates display tokens). "
            f"({exc.message})"
        )
        response = _message(request, "Display not paired", text, exc.status_code)
        if cookie_token:
            response.delete_cookie(COOKIE, path="/")
        return response
    page_config = _page_config(request, principal, bearer)
    return _page(
        request,
        "display.html",
        {"config": page_config, "title": page_config["title"], "layout": page_config["layout"]},
    )


def _page_config(request: Request, principal: Principal, bearer: str | None) -> dict[str, Any]:
    """What the display script needs, from the device's `config` (set by an admin) and the branch."""
    with _db(request).session(write=False) as session:
        # Read the device afresh: the principal may come from a cache a few seconds old.
        device = session.get(Device, principal.device.id) if principal.device else None
        branch = get_branch(session, device.branch_id if device else None)
        # Both read through their schemas: a bad stored value falls back to its default instead of breaking the page.
        languages = [lang for lang in branch_settings(branch).languages if lang in speech.LANGUAGES]
        branch_name = branch.name
        config = device_config(device) if device else DeviceConfig()
    page_config: dict[str, Any] = {
        "languages": [lang for lang in config.languages or languages if lang in speech.LANGUAGES] or ["en"],
        "supported_languages": sorted(speech.LANGUAGES),
        "services": config.services,
        "counters": config.counters,
        "layout": config.layout,
        "history": config.history,
        "speech": config.speech,
        "chime_url": request.url_for("display_static", path="chime.wav").path,
        "title": config.title or branch_name,
    }
    # The page reloads itself when this changes (an admin edited the display's settings).
    page_config["version"] = hashlib.sha256(json.dumps(page_config, sort_keys=True).encode()).hexdigest()[:16]
    # Why the token is embedded: WebSockets cannot carry an Authorization header and the long-poll
    # fallback needs one, so the script must hold the token. This page is only ever sent to the holder of
    # the HttpOnly cookie (never cached: no-store), so it reveals nothing that browser does not already
    # hold; a display token can only read the queue and events (it cannot issue or call tickets).
    # A manager's web session embeds nothing: the API takes the session cookie, and the WebSocket gets a
    # one-minute stream ticket from /staff/stream-ticket before each connect (see wins.web.session).
    page_config["token"] = bearer
    return page_config


@router.get("/display/config")
def display_config(request: Request, cookie_token: Annotated[str | None, Cookie(alias=COOKIE)] = None) -> Response:
    """The display's current settings version (the page polls it to pick up changes)."""
    try:
        principal, bearer = _display_principal(request, cookie_token)
    except WinsError as exc:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=NO_STORE)
    return JSONResponse({"version": _page_config(request, principal, bearer)["version"]}, headers=NO_STORE)


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
    bearer = auth[7:] if auth.lower().startswith("bearer ") else cookie_token
    try:
        if bearer:
            principal = await run_in_threadpool(principal_from_token, request, bearer)
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
def track(request: Request, tracking_token: str) -> Response:
    lang = _phone_language(request)
    strings = tracking_strings(lang)
    if len(tracking_token) > 64:
        return _message(request, strings["missing_title"], strings["missing_text"], 404)
    settings = _settings(request)
    with _db(request).session(write=False) as session:
        try:
            ticket = views.get_by_tracking_token(session, tracking_token)
        except NotFound:
            return _message(request, strings["missing_title"], strings["missing_text"], 404)
        view = tracking_view(session, ticket, settings)
        if ticket.language in ("en", "fr"):
            lang, strings = ticket.language, tracking_strings(ticket.language)
    config = {
        "token": tracking_token,
        "ticket": view,
        "strings": strings,
        "chime_url": request.url_for("display_static", path="chime.wav").path,
    }
    return _page(
        request,
        "track.html",
        {"t": view, "s": strings, "lang": lang, "config": config},
    )


def _phone_language(request: Request) -> str:
    accept = request.headers.get("accept-language", "").lower()
    return "fr" if accept.startswith("fr") else "en"
