"""One access line per request and WebSocket: client, user or device, request id, method, path, status, time.

The client address is the peer's, or, when the peer is one of WINS_TRUSTED_PROXIES, the one its
`X-Forwarded-For` names (and `X-Forwarded-Proto` sets the scheme); a trusted proxy may also pass its own
`X-Request-ID`. Doing this in the app (not in uvicorn's or gunicorn's proxy options, which `wins serve` and
deploy/gunicorn.conf.py leave off) gives the same answer under every server, uWSGI included.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import time
from collections.abc import Sequence
from functools import lru_cache

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wins.logging_setup import RequestInfo, begin_request, end_request
from wins.metrics import observe_request, screen_connected

access_logger = logging.getLogger("wins.access")

_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")


class TrustedProxies:
    """Addresses and networks (`127.0.0.1`, `10.0.0.0/8`, `::1`) whose forwarding headers are believed."""

    def __init__(self, spec: str) -> None:
        self.networks = [ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()]
        self.contains = lru_cache(maxsize=1024)(self._contains)

    def _contains(self, host: str | None) -> bool:
        if not host or not self.networks:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client_from(self, forwarded_for: str) -> str | None:
        """The first address from the right that is not a trusted proxy (each hop appends its peer)."""
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.contains(hop):
                return hop
        return hops[0] if hops else None


class AccessLogMiddleware:
    """Adds `headers` (the security headers, unless the response has its own) and `X-Request-ID`, and logs one
    line per request.

    A plain ASGI middleware: `@app.middleware("http")` (BaseHTTPMiddleware) runs every request through an
    extra task and memory streams, which cost more than the ticket-issuing route itself."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        headers: Sequence[tuple[bytes, bytes]] = (),
        html_headers: Sequence[tuple[bytes, bytes]] = (),
        trusted_proxies: str = "127.0.0.1,::1",
    ) -> None:
        self.app = app
        self.headers = list(headers)
        self.html_headers = list(html_headers)
        self.proxies = TrustedProxies(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        peer = scope.get("client")
        client = peer[0] if peer else "-"
        request_id = ""
        if self.proxies.contains(client):
            forwarded_for = proto = None
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    forwarded_for = value if forwarded_for is None else forwarded_for + b"," + value
                elif name == b"x-forwarded-proto":
                    proto = value
                elif name == b"x-request-id" and _SANE_REQUEST_ID.fullmatch(value):
                    request_id = value.decode()
            if forwarded_for is not None:
                client = self.proxies.client_from(forwarded_for.decode("latin-1")) or client
                scope["client"] = (client, 0)
            if proto in (b"http", b"https"):
                scope["scheme"] = proto.decode() if kind == "http" else proto.decode().replace("http", "ws")
        request_id = request_id or os.urandom(8).hex()
        info = RequestInfo(client=client, request_id=request_id)
        scope.setdefault("state", {})  # shared with the routes' request.state (web pages put the user there)
        status = 500 if kind == "http" else 403
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [item for item in self.headers if item[0] not in present]
                # Added even beside a policy a route set itself: browsers enforce every policy sent, so a route
                # can only tighten this one, never loosen it.
                if any(name.lower() == b"content-type" and value.startswith(b"text/html") for name, value in headers):
                    headers += self.html_headers
                headers.append(id_header)
                message = {**message, "headers": headers}
            elif kind == "websocket.accept":
                status = 101
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
                screen_connected(+1)
            await send(message)

        token = begin_request(info)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            end_request(token)
            seconds = time.perf_counter() - started
            if kind == "websocket" and status == 101:
                screen_connected(-1)
            observe_request(scope.get("method", "WS"), path, status, seconds)
            if access_logger.isEnabledFor(logging.INFO):
                user = info.user
                if user == "-":
                    staff = scope["state"].get("user")
                    user = f"staff:{staff.username}" if getattr(staff, "username", None) else "-"
                method = scope.get("method", "WS")
                ms = round(seconds * 1000, 1)
                access_logger.info(
                    "%s %s %d %.1fms client=%s user=%s id=%s",
                    method,
                    path,
                    status,
                    ms,
                    client,
                    user,
                    request_id,
                    extra={
                        "client": client,
                        "user": user,
                        "request_id": request_id,
                        "method": method,
                        "path": path,
                        "status": status,
                        "ms": ms,
                    },
                )
