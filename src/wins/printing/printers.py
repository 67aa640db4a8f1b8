"""Printer URL → python-escpos printer, and reading a printer's status.

Supported URLs::

    tcp://HOST[:PORT]                 network printer (raw port, 9100 by default)
    usb://VID:PID[?in_ep=0x82&out_ep=0x01]
    serial:///dev/ttyUSB0[?baudrate=19200&dsrdtr=0&xonxoff=0]
    file:///dev/usb/lp0               a device file (no status: the file is opened write-only)
    dummy://                          keeps the bytes in memory (tests, demos)

Any URL may add `profile=NAME` (a python-escpos printer profile such as `TM-T88V`).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from escpos.escpos import Escpos
from escpos.printer import Dummy, File, Network, Serial, Usb

from wins.errors import Conflict, ValidationFailed

logger = logging.getLogger("wins.printing")

DEFAULT_TCP_PORT = 9100
SCHEMES = ("tcp", "usb", "serial", "file", "dummy")

# Real-time status requests (ESC/POS). Each answers one byte.
DLE_EOT_PRINTER = b"\x10\x04\x01"  # printer status: bit 3 = offline
DLE_EOT_OFFLINE = b"\x10\x04\x02"  # offline cause: bit 2 = cover open, bit 5 = paper end, bit 6 = error
DLE_EOT_ERROR = b"\x10\x04\x03"  # error cause: bit 3 = cutter, bit 5 = unrecoverable, bit 6 = auto-recoverable
DLE_EOT_PAPER = b"\x10\x04\x04"  # roll paper sensor: bits 2-3 = near end, bits 5-6 = paper end
GS_R_PAPER = b"\x1dr\x01"  # paper sensor status (older printers): bits 0-1 = near end, bits 2-3 = end

# Printer states reported to callers (and on to the server and staff).
ONLINE = "online"
OFFLINE = "offline"
PAPER_OUT = "paper_out"
COVER_OPEN = "cover_open"
ERROR = "error"
UNKNOWN = "unknown"  # the printer does not answer status requests; it may well be fine
BLOCKING_STATES = (OFFLINE, PAPER_OUT, COVER_OPEN, ERROR)


class PrinterUrlError(ValidationFailed):
    code = "invalid_printer_url"


class PrinterNotConfigured(Conflict):
    code = "printer_not_configured"


class PrinterConnectionError(Exception):
    """The printer could not be reached, or the connection broke: the job must be retried."""


@dataclass(frozen=True)
class PrinterTarget:
    """A parsed printer URL."""

    scheme: str
    url: str
    host: str = ""
    port: int = DEFAULT_TCP_PORT
    path: str = ""
    vendor_id: int = 0
    product_id: int = 0
    options: dict[str, str] = field(default_factory=dict)

    @property
    def profile(self) -> str | None:
        return self.options.get("profile")


def _int(value: str, name: str, url: str, *, base: int = 10) -> int:
    try:
        return int(value, base)
    except ValueError as exc:
        raise PrinterUrlError(f"Printer URL {url!r}: {name} must be a number, not {value!r}.") from exc


def parse_printer_url(url: str) -> PrinterTarget:
    """Check a printer URL and split it into its parts (raises PrinterUrlError with a helpful message)."""
    examples = "tcp://192.168.1.50:9100, usb://04b8:0202, serial:///dev/ttyUSB0?baudrate=19200, file:///dev/usb/lp0"
    if not url or "://" not in url:
        raise PrinterUrlError(f"Printer URL {url!r} is not a URL; use e.g. {examples} or dummy://.")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise PrinterUrlError(
            f"Printer URL {url!r}: unknown kind {scheme!r}; use one of {', '.join(s + '://' for s in SCHEMES)}."
        )
    options = dict(parse_qsl(parts.query))
    if scheme == "tcp":
        if not parts.hostname:
            raise PrinterUrlError(f"Printer URL {url!r} has no host; write it like tcp://192.168.1.50:9100.")
        try:
            port = parts.port or DEFAULT_TCP_PORT
        except ValueError as exc:
            raise PrinterUrlError(f"Printer URL {url!r}: the port must be a number between 1 and 65535.") from exc
        return PrinterTarget(scheme, url, host=parts.hostname, port=port, options=options)
    if scheme == "usb":
        ids = parts.netloc.split(":")
        if len(ids) != 2 or not all(ids):
            raise PrinterUrlError(f"Printer URL {url!r}: write USB printers as usb://VID:PID, e.g. usb://04b8:0202.")
        vid, pid = (_int(i, "the USB id", url, base=16) for i in ids)
        return PrinterTarget(scheme, url, vendor_id=vid, product_id=pid, options=options)
    if scheme in ("serial", "file"):
        path = parts.netloc + parts.path  # serial://dev/ttyS0 (two slashes) still names /dev/ttyS0
        if not path.startswith("/"):
            path = "/" + path
        if path == "/":
            raise PrinterUrlError(f"Printer URL {url!r} has no device path; e.g. {scheme}:///dev/ttyUSB0.")
        return PrinterTarget(scheme, url, path=path, options=options)
    return PrinterTarget(scheme, url, options=options)


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_PROFILE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
NETWORK_URL_MAX = 300


def network_printer_url(url: str) -> str:
    """Check a printer URL that came over HTTP or from the database: only `tcp://HOST:PORT[?profile=NAME]`.

    Why: the other kinds name a file or device on the server (file:///var/lib/wins/wins.db would be opened for
    writing by the next reprint), so they are set by the administrator in the server's environment
    (WINS_PRINTER_URL), never by a manager over the API. Returns the URL written out in full (port included).
    """
    text = url.strip() if isinstance(url, str) else ""
    if not text or len(text) > NETWORK_URL_MAX:
        raise PrinterUrlError(f"A printer URL is up to {NETWORK_URL_MAX} characters, like tcp://192.168.1.50:9100.")
    if "://" not in text:
        raise PrinterUrlError(f"Printer URL {text!r} is not a URL; write it like tcp://192.168.1.50:9100.")
    parts = urlsplit(text)
    if parts.scheme.lower() != "tcp":
        raise PrinterUrlError(
            f"Printer URL {text!r}: only network printers (tcp://HOST:PORT) can be set here. File, serial and USB "
            "printers are set by the server's administrator in WINS_PRINTER_URL."
        )
    try:
        host, port = parts.hostname or "", DEFAULT_TCP_PORT if parts.port is None else parts.port
    except ValueError as exc:
        raise PrinterUrlError(f"Printer URL {text!r}: the port must be a number between 1 and 65535.") from exc
    if parts.username is not None or parts.password is not None or parts.path not in ("", "/") or parts.fragment:
        raise PrinterUrlError(f"Printer URL {text!r}: write it as tcp://HOST:PORT, e.g. tcp://192.168.1.50:9100.")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None and not _HOSTNAME.match(host):
        raise PrinterUrlError(f"Printer URL {text!r}: the host must be a host name or an IP address.")
    if not 1 <= port <= 65535:
        raise PrinterUrlError(f"Printer URL {text!r}: the port must be a number between 1 and 65535.")
    options = parse_qsl(parts.query, keep_blank_values=True)
    if any(name != "profile" or not _PROFILE.match(value) for name, value in options) or len(options) > 1:
        raise PrinterUrlError(f"Printer URL {text!r}: the only option is ?profile=NAME (e.g. TM-T88V).")
    netloc = f"[{host}]" if isinstance(address, ipaddress.IPv6Address) else host
    return f"tcp://{netloc}:{port}" + (f"?{parts.query}" if options else "")


def _flag(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.lower() in ("1", "true", "yes", "on")


def open_printer(url: str, *, timeout: float = 3.0) -> Escpos:
    """A python-escpos printer for `url`, with short timeouts (python-escpos waits 60 s to connect by default).

    The connection is opened lazily by python-escpos on first use, or explicitly with `.open()`.
    """
    target = parse_printer_url(url)
    kwargs: dict[str, Any] = {"profile": target.profile} if target.profile else {}
    if target.scheme == "tcp":
        return Network(host=target.host, port=target.port, timeout=timeout, **kwargs)
    if target.scheme == "usb":
        return Usb(
            idVendor=target.vendor_id,
            idProduct=target.product_id,
            timeout=int(timeout * 1000),  # pyusb counts milliseconds
            in_ep=_int(target.options.get("in_ep", "0x82"), "in_ep", url, base=0),
            out_ep=_int(target.options.get("out_ep", "0x01"), "out_ep", url, base=0),
            **kwargs,
        )
    if target.scheme == "serial":
        opts = target.options
        return Serial(
            devfile=target.path,
            baudrate=_int(opts.get("baudrate", "9600"), "baudrate", url),
            bytesize=_int(opts.get("bytesize", "8"), "bytesize", url),
            timeout=timeout,
            dsrdtr=_flag(opts.get("dsrdtr"), True),
            xonxoff=_flag(opts.get("xonxoff"), False),
            **kwargs,
        )
    if target.scheme == "file":
        return File(devfile=target.path, **kwargs)
    return Dummy(**kwargs)


def connect(printer: Escpos) -> None:
    """Open the connection now, so a refused or missing printer shows up before any byte is sent."""
    from escpos.exceptions import Error as EscposError

    try:
        printer.open()
    except (EscposError, OSError, RuntimeError) as exc:  # RuntimeError: python-escpos' missing-dependency error
        raise PrinterConnectionError(f"cannot connect: {_first_line(exc)}") from exc
    if isinstance(printer, Network) and printer.device is not None:
        # Linux keeps a dead peer "connected" for minutes; keep-alive plus the socket timeout bounds that.
        printer.device.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


def send(printer: Escpos, data: bytes) -> None:
    """Write a whole job; any failure (reset, broken pipe, timeout, USB error) means it was not printed."""
    from escpos.exceptions import Error as EscposError

    try:
        printer._raw(data)
        flush = getattr(printer, "flush", None)
        if flush is not None and not isinstance(printer, Dummy):
            flush()
    except (EscposError, OSError, AssertionError) as exc:  # AssertionError: python-escpos found no device
        raise PrinterConnectionError(f"the connection dropped while sending the job: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    """A short reason: the operating system's words when there are some ("connection refused")."""
    cause: BaseException | None = exc
    while cause is not None and not (isinstance(cause, OSError) and cause.strerror):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror[:1].lower() + cause.strerror[1:]
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


@dataclass(frozen=True)
class PrinterStatus:
    state: str  # ONLINE, OFFLINE, PAPER_OUT, COVER_OPEN, ERROR or UNKNOWN
    supported: bool  # the printer answered status requests
    paper_low: bool = False
    detail: str = ""

    @property
    def blocking(self) -> bool:
        return self.state in BLOCKING_STATES


def _drain(sock: socket.socket) -> None:
    """Drop late answers to earlier requests so they are not read as the answer to the next one."""
    previous = sock.gettimeout()
    sock.setblocking(False)
    try:
        while True:
            data = sock.recv(256)
            if not data:
                raise PrinterConnectionError("the connection dropped: the printer closed it")
    except (BlockingIOError, InterruptedError):
        pass
    except OSError as exc:
        raise PrinterConnectionError(f"the connection dropped: {_first_line(exc)}") from exc
    finally:
        sock.settimeout(previous)


def query(printer: Escpos, request: bytes, *, timeout: float) -> int | None:
    """Send one real-time status request; the answer byte, or None when the printer does not answer.

    On a network printer an end of stream or a reset means the connection is gone (PrinterConnectionError);
    on other links "no answer" just means the printer or link does not support status.
    """
    if isinstance(printer, Dummy) or type(printer)._read is Escpos._read:
        return None  # a link python-escpos cannot read from (file://): do not even send the request
    if isinstance(printer, Network):
        sock = printer.device
        if not isinstance(sock, socket.socket):
            raise PrinterConnectionError("not connected")
        _drain(sock)
        previous = sock.gettimeout()
        try:
            sock.settimeout(timeout)
            sock.sendall(request)
            data = sock.recv(1)
        except TimeoutError:
            return None
        except OSError as exc:
            raise PrinterConnectionError(f"the connection dropped: {_first_line(exc)}") from exc
        finally:
            sock.settimeout(previous)
        if not data:
            raise PrinterConnectionError("the connection dropped: the printer closed it")
        return data[0]
    try:
        printer._raw(request)
        if isinstance(printer, Serial) and printer.device is not None:
            # python-escpos reads 16 bytes, which on a serial line always waits out the whole timeout.
            printer.device.timeout = timeout
            answer = printer.device.read(1)
        else:
            answer = printer._read()
    except (OSError, AssertionError, ValueError) as exc:  # serial/USB timeouts and read errors
        logger.debug("status request %r not answered: %s", request, exc)
        return None
    return answer[0] if answer else None


def read_status(printer: Escpos, *, timeout: float = 1.0) -> PrinterStatus:
    """Ask the printer whether it can print: DLE EOT 1/2/4, falling back to GS r 1 for the paper sensor."""
    if isinstance(printer, Dummy):
        return PrinterStatus(ONLINE, supported=True, detail="dummy printer: the bytes are kept in memory")
    started = time.monotonic()
    printer_byte = query(printer, DLE_EOT_PRINTER, timeout=timeout)
    if printer_byte is None:
        return PrinterStatus(UNKNOWN, supported=False, detail="the printer does not report its status")
    paper_out = paper_low = False
    paper_byte = query(printer, DLE_EOT_PAPER, timeout=timeout)
    if paper_byte is not None:
        paper_out = paper_byte & 0x60 == 0x60
        paper_low = paper_byte & 0x0C == 0x0C
    else:
        sensor = query(printer, GS_R_PAPER, timeout=timeout)
        if sensor is not None:
            paper_out = bool(sensor & 0x0C)
            paper_low = bool(sensor & 0x03)
    state = ONLINE
    detail = ""
    if printer_byte & 0x08:  # offline: ask why
        cause = query(printer, DLE_EOT_OFFLINE, timeout=timeout) or 0
        if cause & 0x04:
            state, detail = COVER_OPEN, "the printer cover is open"
        elif cause & 0x20 or paper_out:
            state, detail = PAPER_OUT, "the printer is out of paper"
        elif cause & 0x40:
            error = query(printer, DLE_EOT_ERROR, timeout=timeout) or 0
            what = "cutter jammed" if error & 0x08 else "unrecoverable error" if error & 0x20 else "error"
            state, detail = ERROR, f"the printer reports an error ({what})"
        else:
            state, detail = OFFLINE, "the printer is offline"
    elif paper_out:
        state, detail = PAPER_OUT, "the printer is out of paper"
    elif paper_low:
        detail = "paper is running low"
    logger.debug("printer status %s (%s) in %.0f ms", state, detail, (time.monotonic() - started) * 1000)
    return PrinterStatus(state, supported=True, paper_low=paper_low and state == ONLINE, detail=detail)
