"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from wins import retry
from wins.config import Settings, get_settings
from wins.db import UNAVAILABLE_MESSAGE, Database
from wins.deps import WebHooks, forget_principals_on_revocation, web_hooks
from wins.events.hub import EventHub
from wins.logging_setup import configure_logging
from wins.ops.presence import announce_server
from wins.schemas import ErrorBody, HealthPublic
from wins.tickets.expiry import expire_now_logged, watch_days
from wins.version import full_version, package_version

logger = logging.getLogger("wins.app")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Tracking tokens and display pairing live in URLs (/t/{token}): no page may pass its address on to another.
    "Referrer-Policy": "no-referrer",
}
# Every HTML page (staff, admin, display, tracking, /docs, error pages) loads only our own files: no inline script
# or style, no plugin, no framing, no <base>. Same-origin WebSockets are covered by connect-src 'self' (CSP Level 3,
# Chromium 73+, Firefox 60+). img-src allows data: for the branch logo, which is stored as a data: URI.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


_frozen = False


def _freeze_once() -> bool:
    """Collect and freeze the heap at the first app start of this process; True when this call froze it."""
    global _frozen
    if _frozen:
        return False
    _frozen = True
    gc.collect()
    gc.freeze()
    return True


_HEADER_ITEMS = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
_CSP_ITEM = (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())


# Every API error has the same body (see install_error_handlers); documenting it on every route lets clients and
# schemathesis (tests/faults/test_schema_fuzz.py) check error answers against the schema too.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "Malformed request",
        401: "Missing, expired or revoked token",
        403: "The caller's role or device may not do this",
        404: "No such object",
        409: "The object's state does not allow this (e.g. the ticket was already called)",
        413: "Request body too large",
        422: "Invalid input (`detail` lists the fields, or explains)",
        429: "Too many attempts",
        503: "Database busy or unreachable",
    }.items()
}


def _error(status: int, message: Any, code: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": message, "code": code, **extra}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    from wins.errors import ValidationFailed, WinsError

    @app.exception_handler(WinsError)
    async def _wins_error(request: Request, exc: WinsError) -> Response:
        handler = web_hooks(request).html_error_handler
        if handler is not None and not _is_api(request):
            return await handler(request, exc)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        response = _error(exc.status_code, exc.message, exc.code, **exc.extra)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        if not _is_api(request):  # a page (an id out of range …): a page answers
            text = "; ".join(f"{'.'.join(map(str, e['loc'][1:])) or 'input'}: {e['msg']}" for e in errors)
            return await _wins_error(request, ValidationFailed(text))
        return _error(422, errors, "invalid_input")

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> Response:
        # The database refused a value the checks let through (PostgreSQL: U+0000 in text, an integer out of
        # range): the input's fault, so a 4xx, never a 500. Inputs are checked first; this is the safety net.
        logger.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc.orig)
        message = "A value in this request cannot be stored (a control character, or a number out of range)."
        return await _wins_error(request, ValidationFailed(message))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = HTTP_MESSAGES.get(exc.status_code, str(exc.detail)) if not _is_api(request) else exc.detail
        response = await _answer(request, exc.status_code, message, "http_error")
        if exc.headers:  # 405's Allow, 401's WWW-Authenticate …
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        if retry.is_retryable(exc) and retry.may_retry(request.scope):
            raise retry.RetryRequest from exc  # lost a race it wins when run again (wins.retry)
        logger.warning("integrity error turned into 409: %s", exc.orig)
        message = "That change clashes with another one made at the same moment; try again."
        return await _answer(request, 409, message, "conflict")

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> Response:
        if retry.is_retryable(exc):
            if retry.may_retry(request.scope):
                raise retry.RetryRequest from exc  # wins.retry runs the request again
            logger.error("transaction conflict after %d attempts: %s", retry.ATTEMPTS, exc.orig)
            message = "The database was too busy to finish this; try again in a moment."
            return await _answer(request, 503, message, "database_busy")
        logger.error("database unavailable: %s (during %s)", exc.orig, (exc.statement or "?")[:80])
        return await _answer(request, 503, UNAVAILABLE_MESSAGE, "database_unavailable")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        message = "Something went wrong on the server; it has been logged. Try again, or tell an administrator."
        response = await _answer(request, 500, message, "internal_error")
        # A 500 is answered outside the middleware that adds the page headers: add them here.
        response.headers.update(SECURITY_HEADERS)
        if response.media_type == "text/html":
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response


# What a person reads on a page for an HTTP error the routes did not raise themselves (no such address, …).
HTTP_MESSAGES = {
    404: "There is no page at this address. Check the address for a typo, or start again from the link below.",
    405: "This address cannot be used that way (perhaps an old bookmark of a form). Go back and use the page's "
    "buttons.",
}


def _is_api(request: Request) -> bool:
    return request.url.path.split("/")[1:2] == ["api"]


async def _answer(request: Request, status: int, message: Any, code: str) -> Response:
    """JSON (`{"detail", "code"}`) under /api/; for every other address a page written for people (the web UI's
    error page, `app.state.web_hooks.html_error_handler`), so a browser never shows a raw JSON error."""
    from wins.errors import WinsError

    handler = web_hooks(request).html_error_handler
    if handler is None or _is_api(request) or not isinstance(message, str):
        return _error(status, message, code)
    error = WinsError(message)
    error.status_code, error.code = status, code
    try:
        return await handler(request, error)
    except Exception:  # the error page itself failed (templates missing …): the plain answer still goes out
        logger.exception("the error page for %s %s failed", request.method, request.url.path)
        return _error(status, message, code)


STATIC_DIR = Path(__file__).parent / "static"
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>WINS API</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
<link rel="icon" href="/static/vendor/swagger-ui/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/docs/swagger-init.js"></script>
</body>
</html>
"""


def _install_docs(app: FastAPI) -> None:
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    # Only /static/vendor and /static/docs are mounted here, so other parts can mount their own folders under /static.
    app.mount("/static/vendor", StaticFiles(directory=STATIC_DIR / "vendor"), name="vendor")
    app.mount("/static/docs", StaticFiles(directory=STATIC_DIR / "docs"), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        # FastAPI's get_swagger_ui_html starts Swagger UI from an inline <script>, which the CSP forbids: the same
        # page with its start-up in a file of ours.
        return HTMLResponse(DOCS_PAGE, headers={"Cache-Control": "no-store"})


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    db = Database(settings)
    hub = EventHub(db, poll_seconds=settings.event_poll_seconds, buffer_size=settings.event_buffer_size)
    from wins.webhooks.deliverer import deliverer_for

    webhooks = deliverer_for(db, settings, hub=hub)
    from wins.push.notifier import PushNotifier

    notifier = PushNotifier(db, settings, hub=hub)
    from wins.sms.sender import SmsSender

    sms_sender = SmsSender(db, settings, hub=hub)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Held while serving, so `wins restore` refuses to pull the database from under this process.
        presence = await asyncio.to_thread(announce_server, settings)
        await hub.start()
        db.start_checkpointer()
        # End of day without traffic, in every process (each ticket expires once however many run: tickets.expiry):
        # first before serving (a server that was off overnight expires yesterday's leftovers), then every few s.
        await asyncio.to_thread(expire_now_logged, db)
        day_watch = asyncio.create_task(watch_days(db, every=settings.day_check_seconds))
        if webhooks is not None:
            await asyncio.to_thread(webhooks.start)  # its own thread; a receiver never holds up a request
        await asyncio.to_thread(notifier.start)  # makes the VAPID keys on first start; pushes from its thread
        # Runs even without a gateway: it erases the numbers of tickets that end (a gateway may have been removed).
        await asyncio.to_thread(sms_sender.start)
        # Tablets' slips waiting in the database: any worker of any host prints them (wins.webkiosk.printing).
        tablet_printing = app.state.tablet_printing.start(db)
        # Everything loaded so far (modules, routes, compiled statements …) lives as long as the process. Moved
        # out of the collector's sight, a full collection no longer walks it: one took ~100 ms under load
        # (p99 of issuing, docs/performance.md). Once per process: a server makes one app, but a test process
        # makes hundreds, and a full collection of its ever larger heap at each start cost the suite minutes.
        froze = _freeze_once()
        logger.info("WINS %s ready on %s", full_version(), db.write_engine.url.render_as_string(hide_password=True))
        try:
            yield
        finally:
            day_watch.cancel()
            if webhooks is not None:
                await asyncio.to_thread(webhooks.stop)
            await asyncio.to_thread(notifier.stop)
            await asyncio.to_thread(sms_sender.stop)
            await asyncio.to_thread(tablet_printing.stop)
            await hub.stop()
            presence.release()
            if froze:
                gc.unfreeze()  # an app made and dropped in one process (tests) must not pin its objects
            await db.close_loop_pool()  # the issue express lane's connections (PostgreSQL)
            db.dispose()

    app = FastAPI(
        title="WINS — Waiting Issue Number System",
        version=package_version(),
        description="Queue management API: issue tickets, call them to counters, follow the event stream.",
        lifespan=lifespan,
        # The default docs pages load Swagger UI from a CDN; sites often have no internet, so we serve a
        # vendored copy instead (see _install_docs).
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.hub = hub
    # The background followers of the event log (wins.background), for /health-style checks and tests.
    app.state.followers = [f for f in (webhooks, notifier, sms_sender) if f is not None]
    app.state.principal_cache = {}
    app.state.web_hooks = WebHooks()  # filled by wins.web.install
    db.after_commit_hooks.append(forget_principals_on_revocation(app.state.principal_cache))
    install_error_handlers(app)
    _install_docs(app)

    from wins.bodylimit import BodyLimitMiddleware
    from wins.retry import TransactionRetryMiddleware
    from wins.tickets.express import IssueExpressLane

    app.add_middleware(IssueExpressLane)  # added first, so it runs inside the access log
    if not db.is_sqlite:
        # Around the lane: a request whose transaction a deadlock or a serialization failure aborted runs again
        # (wins.retry); the lane's own statement changes nothing when it fails, and hands the request on.
        app.add_middleware(TransactionRetryMiddleware)
    app.add_middleware(BodyLimitMiddleware)  # every body, the lane's too, is bounded before anyone reads it
    # -- operations (wins.access_log, wins.metrics): access line, request id, proxies, /health, /metrics --
    from wins.access_log import AccessLogMiddleware
    from wins.metrics import install as install_metrics

    app.add_middleware(
        AccessLogMiddleware,
        headers=_HEADER_ITEMS,
        html_headers=[_CSP_ITEM],
        trusted_proxies=settings.trusted_proxies,
    )
    install_metrics(app)

    @app.get("/health", response_model=HealthPublic, tags=["health"])
    def health() -> Any:
        """Liveness, database and event-stream state, and the version (no sign-in needed; for load balancers
        and monitoring). `status` is `degraded` when either is not ok; 503 when the database is unreachable."""
        try:
            with db.session(write=False) as session:
                session.execute(text("SELECT 1"))
                ok = True
        except Exception as exc:  # the point of the endpoint is to report this
            logger.warning("health check: database unreachable: %s", exc)
            ok = False
        events = hub.state
        body = {
            "status": "ok" if ok and events == "ok" else "degraded",
            "database": db.write_engine.dialect.name,
            "database_ok": ok,
            "event_stream": events,
            "version": full_version(),
            "last_event_id": hub.last_id,
        }
        # 503 only when nothing can be served; a stopped event stream still serves the API (screens fall behind).
        return JSONResponse(body, status_code=200 if ok else 503)

    api = APIRouter(responses=ERROR_RESPONSES)
    from wins.branches.api import router as branch_router
    from wins.counters.api import router as counter_router
    from wins.devices.api import router as device_router
    from wins.events.api import router as event_router
    from wins.join.pages import api as join_api
    from wins.printing.api import router as printing_router
    from wins.push.api import router as push_router
    from wins.reports.api import router as report_router
    from wins.services.api import router as service_router
    from wins.sms.api import router as sms_router
    from wins.staff.api import router as staff_router
    from wins.tickets.api import issue_router, public_router
    from wins.tickets.api import router as ticket_router
    from wins.webhooks.api import router as webhook_router

    for router in (
        issue_router,  # the hottest route, matched first
        staff_router,
        branch_router,
        service_router,
        counter_router,
        printing_router,  # before ticket_router, whose /tickets/{id}/{action} would shadow /tickets/{id}/reprint
        ticket_router,
        public_router,
        device_router,
        event_router,
        report_router,
        webhook_router,
        push_router,
        sms_router,
        join_api,
    ):
        api.include_router(router)
    # The prefix is given here, not on `api`: FastAPI checks an include without a prefix by building every
    # nested route's parameters and models once more (0.1 s of CPU per app; the tests make over a thousand).
    app.include_router(api, prefix="/api/v1")
    # Other parts (staff web UI, display board, tracking page …) add `install(app)` calls here.
    from wins.display import install as install_display

    install_display(app)  # noqa: E702, I001
    from wins.webkiosk import install as install_webkiosk

    install_webkiosk(app)  # noqa: E702, I001
    from wins.web import install as install_web

    install_web(app)  # noqa: E702, I001
    from wins.webhooks.pages import router as webhook_pages

    app.include_router(webhook_pages)  # the admin page (wins.web's templates and sign-in)
    from wins.push.api import pages as push_pages

    app.include_router(push_pages)  # the push service worker and the tracking page's "notify me"
    from wins.join.pages import router as join_pages

    app.include_router(join_pages)  # /join (public) and the join poster (admin)
    return app
