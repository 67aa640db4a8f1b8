"""WSGI entry point for uWSGI (or any WSGI server): `module = wins.ops.wsgi:application`.

WINS is an ASGI app; a2wsgi runs it on an asyncio loop in a background thread of each worker process.
a2wsgi does not run the ASGI lifespan, so this module does it: without it the event hub would never start
and long-polls would never wake. The loop thread must be created after uWSGI forks (`lazy-apps = true`),
otherwise workers inherit a copy of a loop whose thread does not exist and every request hangs.
WebSockets cannot pass through WSGI: a WebSocket request gets a 501 that says to use the long-poll
`GET /api/v1/events` (the staff page, display board and kiosk fall back to it on their own).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import threading
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, cast

from a2wsgi import ASGIMiddleware
from fastapi import FastAPI

from wins.app import create_app

logger = logging.getLogger(__name__)

Message = MutableMapping[str, Any]


class Lifespan:
    """Drives the ASGI lifespan protocol of `app` on `loop` (startup now, shutdown at exit)."""

    def __init__(self, app: FastAPI, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop
        self._to_app: asyncio.Queue[Message] | None = None
        self._from_app: asyncio.Queue[Message] | None = None
        self._task: asyncio.Task[None] | None = None

    async def _startup(self) -> None:
        self._to_app, self._from_app = asyncio.Queue(), asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self._task = asyncio.create_task(self.app(scope, self._to_app.get, self._from_app.put))
        await self._to_app.put({"type": "lifespan.startup"})
        reply = await self._from_app.get()
        if reply["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"application startup failed: {reply.get('message', reply)}")

    async def _shutdown(self) -> None:
        assert self._to_app is not None
        assert self._from_app is not None
        await self._to_app.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(self._from_app.get(), timeout=10)

    def startup(self, timeout: float = 60.0) -> None:
        asyncio.run_coroutine_threadsafe(self._startup(), self.loop).result(timeout)

    def shutdown(self) -> None:
        if self._task is None or self.loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(15)
        except Exception as exc:  # at exit there is nobody left to tell but the log
            logger.warning("application shutdown did not complete: %s", exc)


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

NO_WEBSOCKET = json.dumps(
    {
        "detail": "WebSockets are not available on this server (uWSGI). Use the long-poll event stream: "
        "GET /api/v1/events?since=LAST_ID&timeout=25",
        "code": "websocket_unavailable",
    }
).encode()


def refuse_websockets(wsgi: WSGIApp) -> WSGIApp:
    """A WebSocket handshake cannot be answered through WSGI; without this it would reach the app as a plain
    GET and get a bare 404. Say what to use instead."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            start_response(
                "501 Not Implemented",
                [("Content-Type", "application/json"), ("Content-Length", str(len(NO_WEBSOCKET)))],
            )
            return [NO_WEBSOCKET]
        return wsgi(environ, start_response)

    return application


def build(app: FastAPI | None = None) -> WSGIApp:
    app = app or create_app()
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="wins-asgi-loop", daemon=True).start()
    lifespan = Lifespan(app, loop)
    lifespan.startup()
    try:
        import uwsgi  # only exists inside uWSGI

        uwsgi.atexit = lifespan.shutdown
    except ImportError:
        atexit.register(lifespan.shutdown)
    # The client address nginx forwards is trusted by wins.access_log (WINS_TRUSTED_PROXIES), as under gunicorn
    # and `wins serve`: sign-ins are throttled per client address.
    inner = ASGIMiddleware(cast(Any, app), loop=loop)  # a2wsgi's own ASGI types are narrower than Starlette's

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # a2wsgi names the client only when REMOTE_PORT is set, and uWSGI's http-socket does not set it.
        environ.setdefault("REMOTE_PORT", "0")
        return inner(cast(Any, environ), start_response)

    return refuse_websockets(application)


application = build()
