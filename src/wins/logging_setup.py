"""Python logging, configured once: text for people or JSON lines for collectors, every line once, no secrets.

One handler on the root logger writes every line (WINS, uvicorn, gunicorn: their loggers propagate to it, see
`server_log_config`), in the format WINS_LOG_FORMAT chooses, through one `Redactor` that masks tokens,
passwords, tracking tokens and cookies whatever logger wrote them.

Each request sets a `RequestInfo` (client address, request id, who is calling) for its duration; the access
line and `sign_in_failed` read it, and JSON lines logged during a request carry its `request_id`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wins.config import LogFormat, Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"

# Names whose value is a secret wherever they appear as `name=value` (query strings, form bodies, cookies) or
# `"name": value` (JSON, Python reprs): any name containing one of these words.
_SECRET_WORD = re.compile(r"token|passw|secret|session|csrf|api.?key|authoriz", re.I)
# Cheap first look: a line without any of these (most lines) is returned as it is, without the full scan
# (substring tests cost ~1 µs a line; the scan several times that, and the regex module has no fast
# case-insensitive multi-literal search).
_TRIGGERS = (
    "token",
    "passw",
    "secret",
    "session",
    "csrf",
    "key",
    "authoriz",
    "bearer",
    "basic",
    "cookie",
    "/t/",
    "/public/tickets/",
    "wdt_",
    "eyj",
)
# Possessive quantifiers (`++`, Python 3.11) keep the scan linear: a name is read once, never backtracked into.
_SECRETS = re.compile(
    "|".join(
        (
            # `Authorization: Bearer xyz`, `bearer xyz`, `Basic xyz`
            r"(?P<scheme>\b(?i:bearer|basic))\s++[A-Za-z0-9._~+/=-]++",
            # `token=xyz`, `password=xyz`, `wins_session=xyz` (the name is checked in _mask)
            r"(?<![\w.-])(?P<kv>[\w.-]++)=(?P<kv_value>[^&\s\"',;]++)",
            # `"password": "xyz"` and `'token': 'xyz'` (the name is checked in _mask)
            r"(?P<quoted>(?P<q>[\"'])(?P<qname>[\w.-]++)(?P=q)\s*+:\s*+)(?P<q2>[\"'])(?P<qvalue>(?:\\.|(?!(?P=q2))[^\\])*+)(?P=q2)",
            # `Cookie: a=b; c=d` (the whole header value)
            r"(?P<cookie>\b(?i:(?:set-)?cookie)[\"']?\s*+[:=]\s*+)[^\r\n]++",
            # tracking tokens in paths: /t/<token>, /api/v1/public/tickets/<token>[/…]
            r"(?P<path>/(?:t|public/tickets)/)[^/\s?#\"']++",
            # WINS' own token shapes, wherever they turn up: device tokens and signed (itsdangerous) tokens
            r"(?P<device>\bwdt_)[A-Za-z0-9_-]++",
            r"(?P<signed>\b(?:wst\.)?)eyJ[A-Za-z0-9_-]++\.[A-Za-z0-9_-]++\.[A-Za-z0-9_-]++",
        )
    )
)


def _mask(match: re.Match[str]) -> str:
    groups = match.groupdict()
    if groups["scheme"]:
        return f"{groups['scheme']} {MASK}"
    if groups["kv"]:
        if not _SECRET_WORD.search(groups["kv"]) or groups["kv_value"] == MASK:
            return match.group(0)
        return f"{groups['kv']}={MASK}"
    if groups["quoted"]:
        if not _SECRET_WORD.search(groups["qname"]):
            return match.group(0)
        return f"{groups['quoted']}{groups['q2']}{MASK}{groups['q2']}"
    for name in ("cookie", "path", "device", "signed"):
        if groups[name] is not None:
            return groups[name] + MASK
    return MASK  # pragma: no cover  (every alternative has a group)


def redact(text: str) -> str:
    """`text` with every secret WINS knows the shape of replaced by ***."""
    lowered = text.lower()
    if not any(trigger in lowered for trigger in _TRIGGERS):
        return text
    return _SECRETS.sub(_mask, text)


@dataclass(slots=True)
class RequestInfo:
    """What the log knows about the request being served (set by the access-log middleware)."""

    client: str
    request_id: str
    user: str = "-"


_request: ContextVar[RequestInfo | None] = ContextVar("wins_request", default=None)


def current_request() -> RequestInfo | None:
    return _request.get()


def begin_request(info: RequestInfo) -> object:
    return _request.set(info)


def end_request(token: object) -> None:
    _request.reset(token)  # type: ignore[arg-type]


def note_user(label: str) -> None:
    """Record who is calling, for the request's access line (`staff:ann`, `device:Kiosk 1`)."""
    info = _request.get()
    if info is not None:
        info.user = label


security_logger = logging.getLogger("wins.security")


def sign_in_failed(username: str | None) -> None:
    """One line per failed sign-in, with the client address first (deploy/fail2ban/ matches it): the address
    comes before the user-chosen name, which is quoted, so a crafted name cannot forge another address.
    `None` when what was typed names no account: it may be a password typed in the wrong box, so it is not
    logged ("(unknown)" cannot be a username: see wins.staff.service)."""
    info = _request.get()
    client = info.client if info is not None else "local"
    name = "(unknown)" if username is None else username[:100]
    security_logger.warning("sign-in failed from %s for user %s", client, json.dumps(name))


class Redactor(logging.Filter):
    """Masks secrets in the finished message (and traceback), and tags the record with the request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # wrong arguments: let the handler report it ("--- Logging error ---"), not the caller
            return True
        clean = redact(message)
        if clean is not message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        path = getattr(record, "path", None)  # an access line's own field (JSON)
        if isinstance(path, str):
            record.path = redact(path)
        if not hasattr(record, "request_id"):
            info = _request.get()
            record.request_id = info.request_id if info is not None else None
        return True


class TextFormatter(logging.Formatter):
    """One record, one line: line breaks inside a message (e.g. from a user-chosen name) are escaped so that
    nobody can forge a log line; tracebacks keep theirs."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802  (logging's name)
        if "\n" in record.message or "\r" in record.message:
            record.message = record.message.replace("\r", "\\r").replace("\n", "\\n")
        return super().formatMessage(record)


# Extra fields an access line carries (see wins.access_log); JSON lines show them as their own keys.
ACCESS_FIELDS = ("client", "user", "method", "path", "status", "ms")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            data["request_id"] = request_id
        for key in ACCESS_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                data[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exc"] = record.exc_text
        return json.dumps(data, ensure_ascii=False)


class WinsHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler: stderr, the chosen format, the redactor. Recognisable, so configuring twice (server
    config, then the app) replaces it instead of adding a second one."""

    def __init__(self, log_format: str = LogFormat.text.value) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(JsonFormatter() if log_format == LogFormat.json.value else TextFormatter())
        self.addFilter(Redactor())


def _is_stray(handler: logging.Handler) -> bool:
    # A WinsHandler from an earlier configuration, or logging.basicConfig()'s plain stderr handler (which
    # libraries such as python-escpos install on import): either would print every line a second time.
    # Subclasses (pytest's capture handlers) are left alone.
    return isinstance(handler, WinsHandler) or type(handler) is logging.StreamHandler


def configure_logging(settings: Settings) -> None:
    root = logging.getLogger()
    for old in list(root.handlers):
        if _is_stray(old):
            root.removeHandler(old)
    root.addHandler(WinsHandler(settings.log_format.value))
    root.setLevel(settings.log_level.upper())
    # Neither format shows the caller's file and line, and every request logs at least one line: skip looking
    # them up ("Optimization" in the logging HOWTO; about 10 µs a line, 2 % of issuing a ticket).
    logging._srcfile = None
    logging.logProcesses = logging.logMultiprocessing = False
    # Our own middleware logs one line per request; uvicorn's access log would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        for old in list(server_logger.handlers):
            server_logger.removeHandler(old)
        server_logger.propagate = True
    uvicorn_error = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, DropWebSocketChatter) for f in uvicorn_error.filters):
        uvicorn_error.addFilter(DropWebSocketChatter())


class DropWebSocketChatter(logging.Filter):
    """uvicorn's per-WebSocket lines ("… WebSocket /path?token=…" [accepted], connection open/closed): the
    access line tells the same once, with the user and without the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.msg if isinstance(record.msg, str) else ""
        return not ('"WebSocket ' in text or text in ("connection open", "connection closed"))


# The servers' loggers: no handlers of their own, so their lines reach the root's WinsHandler (once).
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "gunicorn.error")
# Their lines the access line already tells (with less): uvicorn's per-WebSocket messages also carry the query
# string, where browsers put their token.
QUIET_LOGGERS = ("uvicorn.access", "gunicorn.access")


def server_log_config(settings: Settings) -> dict[str, Any]:
    """`logging.config.dictConfig` settings for uvicorn (`wins serve`) and gunicorn (`logconfig_dict`): the
    same handler, format and redactor as the app, before the app is loaded (and in gunicorn's master)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"websocket_chatter": {"()": "wins.logging_setup.DropWebSocketChatter"}},
        "handlers": {
            "wins": {"()": "wins.logging_setup.WinsHandler", "log_format": settings.log_format.value},
        },
        "root": {"level": settings.log_level.upper(), "handlers": ["wins"]},
        "loggers": {
            **{name: {"handlers": [], "propagate": True} for name in SERVER_LOGGERS},
            "uvicorn.error": {"handlers": [], "propagate": True, "filters": ["websocket_chatter"]},
            **{name: {"handlers": [], "propagate": False, "level": "CRITICAL"} for name in QUIET_LOGGERS},
        },
    }
