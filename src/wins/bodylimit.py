"""One size limit for every request body (JSON, forms, uploads), enforced in one place.

Why here and not per route: a route that reads its body has already buffered it. This ASGI middleware sits in
front of everything (inside the access log): a declared `Content-Length` over the limit is answered 413 before a
byte is read; a body without one (chunked) is counted as it streams and cut off at the limit. The server
already stops a body at its declared length, so the common case costs one header look-up and no wrapping — the
kiosk's ticket tap (the express lane, wins.tickets.express) is the hot path.

Limits are small: every JSON body and form of WINS fits in a few KiB. Only the branch settings take a logo (a
picture of up to 256 KiB, as a file upload on the admin page or a data: URL in the API).
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KIB = 1024
DEFAULT_LIMIT = 16 * KIB
ISSUE_LIMIT = 4 * KIB  # a tap's body is ~50 bytes; the express lane reads at most this much
LOGO_LIMIT = 400 * KIB  # a 256 KiB picture in base64 (342 KiB) plus the other settings
LIMITS: dict[tuple[str, str], int] = {
    ("POST", "/api/v1/tickets"): ISSUE_LIMIT,
    ("POST", "/api/v1/devices/me/status"): 4 * KIB,  # sent to every staff screen: keep it small
    ("PATCH", "/api/v1/branch"): LOGO_LIMIT,
    ("POST", "/admin/branch"): LOGO_LIMIT,
}


def limit_for(method: str, path: str) -> int:
    return LIMITS.get((method, path), DEFAULT_LIMIT)


class BodyTooLarge(HTTPException):
    """Raised from receive() when a streamed body passes the limit; the middleware then answers 413 itself.
    An HTTPException, so the app's handlers pass it on quietly instead of logging a server error."""

    def __init__(self) -> None:
        super().__init__(413, "Request body too large")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = LIMITS.get((scope["method"], scope["path"]), DEFAULT_LIMIT)
        declared: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = int(value) if value.isdigit() else None
                break
        if declared is not None:
            if declared > limit:
                await _refuse(scope, send, limit)
                return
            await self.app(scope, receive, send)  # the server delivers no more than it declared
            return

        received = 0
        too_large = False
        started = False

        async def counted() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise BodyTooLarge()
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if too_large:
                return  # whatever the app made of the cut-off body, the answer is our 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except BodyTooLarge:
            pass
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await _refuse(scope, send, limit)


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    text = f"The request body is too large: this address takes at most {limit // KIB} KiB."
    if scope["path"].startswith("/api/"):
        body = json.dumps({"detail": text, "code": "body_too_large"}).encode()
        content_type = b"application/json"
    else:
        body = text.encode()
        content_type = b"text/plain; charset=utf-8"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
