"""The FastAPI application factory."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wins import __version__
from wins.config import Settings, get_settings
from wins.db import Database
from wins.deps import WebHooks, web_hooks
from wins.events.hub import EventHub
from wins.logging_setup import configure_logging
from wins.schemas import ErrorBody, HealthPublic

logger = logging.getLogger("wins.app")
access_logger = logging.getLogger("wins.access")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


_HEADER_ITEMS = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


class AccessLogMiddleware:
    """Adds the security headers and logs one line per request.

    A plain ASGI middleware: `@app.middleware("http")` (BaseHTTPMiddleware) runs every request through an
    extra task and memory streams, which cost more than the ticket-issuing route itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [item for item in _HEADER_ITEMS if item[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if access_logger.isEnabledFor(logging.INFO):
                access_logger.info(
                    "%s %s %d %.1fms",
                    scope["method"],
                    scope["path"],
                    status,
                    (time.perf_counter() - started) * 1000,
                )


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


def _error(status: int, message: Any, code: str) -> JSONResponse:
    return JSONResponse({"detail": message, "code": code}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    from wins.errors import WinsError

    @app.exception_handler(WinsError)
    async def _wins_error(request: Request, exc: WinsError) -> Response:
        handler = web_hooks(request).html_error_handler
        if handler is not None and request.url.path.split("/")[1:2] != ["api"]:
            return await handler(request, exc)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        response = _error(exc.status_code, exc.message, exc.code)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        return _error(422, errors, "invalid_input")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, exc.detail, "http_error")

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> Response:
        logger.warning("integrity error turned into 409: %s", exc.orig)
        return _error(409, "That change clashes with another one made at the same moment; try again.", "conflict")

    @app.exception_handler(OperationalError)
    async def _operational(_: Request, exc: OperationalError) -> Response:
        logger.error("database unavailable: %s (during %s)", exc.orig, (exc.statement or "?")[:80])
        return _error(503, "The database is busy or unreachable; try again in a moment.", "database_unavailable")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "Something went wrong on the server; it has been logged.", "internal_error")


STATIC_DIR = Path(__file__).parent / "static"


def _install_docs(app: FastAPI) -> None:
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    # Only /static/vendor is mounted here, so other parts can mount their own folders under /static.
    app.mount("/static/vendor", StaticFiles(directory=STATIC_DIR / "vendor"), name="vendor")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="WINS API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    db = Database(settings)
    hub = EventHub(db, poll_seconds=settings.event_poll_seconds, buffer_size=settings.event_buffer_size)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await hub.start()
        db.start_checkpointer()
        # Everything loaded so far (modules, routes, compiled statements …) lives as long as the process. Moved
        # out of the collector's sight, a full collection no longer walks it: one took ~100 ms under load
        # (p99 of issuing, docs/performance.md).
        gc.collect()
        gc.freeze()
        logger.info("WINS %s ready on %s", __version__, db.write_engine.url.render_as_string(hide_password=True))
        try:
            yield
        finally:
            await hub.stop()
            gc.unfreeze()  # an app made and dropped in one process (tests) must not pin its objects
            db.dispose()

    app = FastAPI(
        title="WINS — Waiting Issue Number System",
        version=__version__,
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
    app.state.principal_cache = {}
    app.state.web_hooks = WebHooks()  # filled by wins.web.install
    install_error_handlers(app)
    _install_docs(app)

    from wins.tickets.express import IssueExpressLane

    app.add_middleware(IssueExpressLane)  # added first, so it runs inside the access log
    app.add_middleware(AccessLogMiddleware)

    @app.get("/health", response_model=HealthPublic, tags=["health"])
    def health() -> Any:
        """Liveness and database state (no sign-in needed; for load balancers and monitoring)."""
        try:
            with db.session(write=False) as session:
                session.execute(text("SELECT 1"))
                ok = True
        except Exception as exc:  # the point of the endpoint is to report this
            logger.warning("health check: database unreachable: %s", exc)
            ok = False
        body = {
            "status": "ok" if ok else "degraded",
            "database": db.write_engine.dialect.name,
            "database_ok": ok,
            "version": __version__,
            "last_event_id": hub.last_id,
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    api = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
    from wins.branches.api import router as branch_router
    from wins.counters.api import router as counter_router
    from wins.devices.api import router as device_router
    from wins.events.api import router as event_router
    from wins.printing.api import router as printing_router
    from wins.services.api import router as service_router
    from wins.staff.api import router as staff_router
    from wins.tickets.api import issue_router, public_router
    from wins.tickets.api import router as ticket_router

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
    ):
        api.include_router(router)
    app.include_router(api)
    # Other parts (staff web UI, display board, tracking page …) add `install(app)` calls here.
    from wins.display import install as install_display

    install_display(app)  # noqa: E702, I001
    from wins.web import install as install_web

    install_web(app)  # noqa: E702, I001
    return app
