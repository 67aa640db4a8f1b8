"""Writing one event's WebSocket frame to many screens: the frame is built once and its bytes written to each
socket, instead of each socket framing the same text again.

Why: a server's frames are not masked (RFC 6455 §5.1), so the frame of an event is the same bytes for every
screen. The ordinary path, per socket and per event, goes Starlette's `WebSocket.send` → the middlewares'
send wrappers → uvicorn's protocol → the `websockets` package building the frame → the transport: most of a
delivery's server CPU (docs/performance.md §3). Here that is one `transport.write` of ready bytes.

This reaches into uvicorn's protocol (`websockets-sansio`, the one uvicorn picks when `websockets` is installed,
`wins serve` and the gunicorn worker alike), so it is taken only when everything is as recognised:

- the server's send is `WebSocketsSansIOProtocol.send`, reached from the route's send through wrappers known
  to pass `websocket.send` messages on unchanged (`_TRANSPARENT`); any other wrapper, ASGI server or test
  client gets the ordinary send. A new middleware that wraps sends therefore turns this off (and
  tests/test_frames.py fails) rather than being skipped silently;
- no extension was negotiated (no permessage-deflate, wins.ops.serving);
- per frame: the connection is open, the server has not sent its close, and the transport is not paused
  (its buffer is below the high-water mark). Otherwise the ordinary send runs, which waits for the buffer to
  drain: a screen that stops reading holds at most that buffer, and only its own stream waits.

Ordering: uvicorn writes every frame (pongs, its keepalive pings, close) whole and at once with
`transport.write`, as this does, all on the event loop's thread, so frames cannot interleave within a frame
and go out in the order they were written.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

logger = logging.getLogger(__name__)

# Send wrappers that pass a `websocket.send` message on as is, by qualified name.
_TRANSPARENT = frozenset(
    {
        # Starlette's exception handling (ExceptionMiddleware and each route): notes http.response.start only.
        "wrap_app_handling_exceptions.<locals>.wrapped_app.<locals>.sender",
        # wins.access_log: adds a header to websocket.accept only.
        "AccessLogMiddleware.__call__.<locals>.send_with_headers",
    }
)
_MAX_HOPS = 16

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.frames import Frame, Opcode
    from websockets.protocol import State
except ImportError:  # pragma: no cover - another server, or another uvicorn layout: the ordinary path only
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]


@functools.lru_cache(maxsize=256)
def text_frame(text: str) -> bytes:
    """The complete unmasked frame (FIN, text) of `text`, built by `websockets` itself so that it is byte for
    byte what the ordinary path sends. Cached: the streams of all screens ask for the same event's text in
    turn (a str caches its hash, and the lookup compares the very same object first)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def _server_protocol(send: Any) -> Any | None:
    """uvicorn's sansio protocol behind `send`, if every wrapper on the way is one of `_TRANSPARENT`."""
    if WebSocketsSansIOProtocol is None:
        return None
    for _ in range(_MAX_HOPS):
        owner = getattr(send, "__self__", None)
        if owner is not None:
            if type(owner) is WebSocketsSansIOProtocol and send.__func__ is WebSocketsSansIOProtocol.send:
                return owner
            return None
        if getattr(send, "__qualname__", None) not in _TRANSPARENT:
            return None
        code = send.__code__
        cells = dict(zip(code.co_freevars, send.__closure__ or (), strict=True))
        cell = cells.get("send")
        if cell is None:
            return None
        send = cell.cell_contents
    return None


def _as_recognised(protocol: Any) -> bool:
    """Whether the protocol has every attribute `FrameWriter.send` reads, as this uvicorn/websockets has them (a
    later release that renames one turns the direct way off here, once per stream, instead of failing each
    send), and negotiated no extension (e.g. permessage-deflate: frames differ per socket)."""
    try:
        conn = protocol.conn
        ready = (protocol.writable.is_set, protocol.close_sent, protocol.disconnected, conn.state, conn.writes)
        transport = protocol.transport
        return (
            all(r is not None for r in ready)
            and not conn.extensions
            and transport is not None
            and (callable(transport.write) and callable(transport.is_closing))
        )
    except AttributeError:
        logger.warning("uvicorn's WebSocket protocol is not as expected: event frames take the ordinary send")
        return False


class FrameWriter:
    """Sends text frames on one event stream's socket: ready-made bytes straight to the transport when the
    server is recognised and the socket can take them now, else the ordinary ASGI send."""

    __slots__ = ("_conn", "_protocol", "_transport", "_websocket", "direct")

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        protocol = _server_protocol(websocket._send)
        if protocol is not None and not _as_recognised(protocol):
            protocol = None
        # Typed Any: uvicorn's and websockets' internals, read only after `_server_protocol` recognised them.
        self._protocol: Any = protocol
        self._conn: Any = protocol.conn if protocol is not None else None
        self._transport: Any = protocol.transport if protocol is not None else None
        # Whether frames may go the direct way on this socket (for tests and the log).
        self.direct = protocol is not None

    def _open(self) -> bool:
        """Whether the socket can take ready bytes now (see the module's docstring)."""
        protocol = self._protocol
        return (
            protocol is not None
            and protocol.writable.is_set()
            and not protocol.close_sent
            and not protocol.disconnected
            and self._conn.state is State.OPEN
            and not self._conn.writes  # uvicorn drains it at once; never put a frame before one left there
            and not self._transport.is_closing()
            and self._websocket.application_state is WebSocketState.CONNECTED
        )

    async def send(self, text: str) -> None:
        if self._open():
            self._transport.write(text_frame(text))
            return
        await self._websocket.send({"type": "websocket.send", "text": text})

    async def send_all(self, texts: list[str]) -> None:
        """Several frames, in order: in one write when the direct way is open (a call-next's `ticket.done` and
        `ticket.called` reach a screen in one wake-up: one system call instead of two), else one by one."""
        if len(texts) > 1 and self._open():
            self._transport.write(b"".join([text_frame(text) for text in texts]))
            return
        for text in texts:
            await self.send(text)
