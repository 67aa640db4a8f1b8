"""A network receipt printer for tests: a real TCP server on 127.0.0.1 that speaks enough ESC/POS.

It keeps every byte it receives (minus the real-time status requests it answers), answers DLE EOT n and
GS r n like an Epson printer, and can be told to misbehave:

    with PrinterEmulator() as printer:
        printer.paper = "out"            # status says paper end (also "low")
        printer.cover_open = True
        printer.answer_status = False    # a printer that ignores status requests
        printer.refuse_connections()     # nothing listens: connection refused
        printer.accept_connections()     # same port again
        printer.drop_mid_job(after=1000) # reset the connection once 1000 job bytes arrived (next job only)
        printer.wait_for_jobs(1)         # jobs that arrived whole
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

DLE, ESC, GS = 0x10, 0x1B, 0x1D
# Commands with exactly one argument byte (their argument may look like DLE or GS, so skip it as a whole).
ESC_ONE_ARG = set(b"!EatdM-3JG")
GS_ONE_ARG = set(b"!BHhwf")


class EscposDevice:
    """The printer's side of the byte stream, independent of the link (TCP here, a pty in serial tests)."""

    def __init__(self) -> None:
        self.paper = "ok"  # ok | low | out
        self.cover_open = False
        self.online = True
        self.answer_status = True
        self.queries: list[bytes] = []

    @property
    def offline(self) -> bool:
        return not self.online or self.cover_open or self.paper == "out"

    def status(self, request: bytes) -> bytes:
        self.queries.append(request)
        if not self.answer_status:
            return b""
        out, low = self.paper == "out", self.paper in ("low", "out")
        if request[:2] == b"\x10\x04":
            n = request[2]
            if n == 1:
                return bytes([0x12 | (0x08 if self.offline else 0)])
            if n == 2:
                return bytes([0x12 | (0x04 if self.cover_open else 0) | (0x20 if out else 0)])
            if n == 3:
                return bytes([0x12])
            if n == 4:
                return bytes([0x12 | (0x0C if low else 0) | (0x60 if out else 0)])
            return b""
        if request[:2] == b"\x1dr" and request[2] in (1, 49):
            return bytes([(0x03 if low else 0) | (0x0C if out else 0)])
        return b"\x00"

    def feed(self, buffer: bytearray, job: bytearray) -> bytes:
        """Consume complete commands from `buffer` into `job`; return the answers to status requests."""
        answers = bytearray()
        i = 0
        n = len(buffer)
        while i < n:
            b = buffer[i]
            if b == DLE:
                if i + 2 >= n:
                    break
                if buffer[i + 1] == 0x04:
                    answers += self.status(bytes(buffer[i : i + 3]))
                    i += 3
                    continue
            elif b == ESC:
                if i + 1 >= n:
                    break
                if buffer[i + 1] in ESC_ONE_ARG:
                    if i + 2 >= n:
                        break
                    job += buffer[i : i + 3]
                    i += 3
                    continue
            elif b == GS:
                if i + 2 >= n:
                    break
                c = buffer[i + 1]
                if c == ord("r"):
                    answers += self.status(bytes(buffer[i : i + 3]))
                    i += 3
                    continue
                if c == ord("v"):  # GS v 0 m xL xH yL yH data
                    if i + 8 > n:
                        break
                    xl, xh, yl, yh = buffer[i + 4 : i + 8]
                    end = i + 8 + (xl + 256 * xh) * (yl + 256 * yh)
                    if end > n:
                        break
                    job += buffer[i:end]
                    i = end
                    continue
                if c == ord("("):  # GS ( k pL pH … and friends
                    if i + 5 > n:
                        break
                    end = i + 5 + buffer[i + 3] + 256 * buffer[i + 4]
                    if end > n:
                        break
                    job += buffer[i:end]
                    i = end
                    continue
                if c == ord("V"):
                    end = i + (4 if buffer[i + 2] in (65, 66) else 3)
                    if end > n:
                        break
                    job += buffer[i:end]
                    i = end
                    continue
                if c in GS_ONE_ARG:
                    job += buffer[i : i + 3]
                    i += 3
                    continue
            job.append(b)
            i += 1
        del buffer[:i]
        return bytes(answers)


@dataclass
class Connection:
    data: bytearray = field(default_factory=bytearray)  # job bytes, status requests removed
    dropped: bool = False
    closed: threading.Event = field(default_factory=threading.Event)


class PrinterEmulator(EscposDevice):
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.connections: list[Connection] = []
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._drop_after: int | None = None
        self._drops_left = 0
        self._accept_thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    # -- control ----------------------------------------------------------------------------------

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(16)
        self.port = sock.getsockname()[1]
        self._listener = sock

    def start(self) -> PrinterEmulator:
        self._listen()
        self._accept_thread = threading.Thread(target=self._accept_loop, name="printer-emulator", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._accept_thread is not None:
            self._accept_thread.join(5)
        for thread in self._threads:
            thread.join(5)
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None

    def __enter__(self) -> PrinterEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def refuse_connections(self) -> None:
        """Stop listening: connecting now fails with 'connection refused'."""
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None

    def accept_connections(self) -> None:
        with self._lock:
            if self._listener is None:
                self._listen()

    def drop_mid_job(self, *, after: int = 512, times: int = 1) -> None:
        """Reset the connection once `after` job bytes have arrived, for the next `times` connections."""
        self._drop_after, self._drops_left = after, times

    def healthy(self) -> None:
        self.paper, self.cover_open, self.online, self.answer_status = "ok", False, True, True
        self._drops_left = 0
        self.accept_connections()

    # -- what arrived -----------------------------------------------------------------------------

    @property
    def jobs(self) -> list[bytes]:
        """Jobs that arrived whole: connections that carried job bytes, closed by the client, not dropped."""
        return [bytes(c.data) for c in list(self.connections) if c.closed.is_set() and not c.dropped and c.data]

    @property
    def dropped_jobs(self) -> list[bytes]:
        return [bytes(c.data) for c in list(self.connections) if c.dropped]

    def wait_for_jobs(self, count: int, timeout: float = 10.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.jobs) >= count:
                return self.jobs
            time.sleep(0.02)
        raise AssertionError(f"expected {count} whole job(s), got {len(self.jobs)} within {timeout}s")

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until every connection so far has closed."""
        deadline = time.monotonic() + timeout
        for conn in list(self.connections):
            conn.closed.wait(max(0.0, deadline - time.monotonic()))

    # -- serving ----------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                listener = self._listener
            if listener is None:
                time.sleep(0.02)
                continue
            try:
                with selectors.DefaultSelector() as sel:
                    sel.register(listener, selectors.EVENT_READ)
                    if not sel.select(0.05):
                        continue
                client, _ = listener.accept()
            except (OSError, ValueError):  # the listener was closed under us (refuse_connections)
                continue
            conn = Connection()
            self.connections.append(conn)
            drop_after = self._drop_after if self._drops_left > 0 else None
            if drop_after is not None:
                self._drops_left -= 1
            thread = threading.Thread(target=self._serve, args=(client, conn, drop_after), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket, conn: Connection, drop_after: int | None) -> None:
        buffer = bytearray()
        client.settimeout(0.05)
        try:
            while not self._stop.is_set():
                try:
                    chunk = client.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                buffer += chunk
                answers = self.feed(buffer, conn.data)
                if drop_after is not None and len(conn.data) >= drop_after:
                    conn.dropped = True
                    del conn.data[drop_after:]  # what came after the cut never reached the print head
                    # SO_LINGER 0: close with a reset, like a printer losing power or its link.
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
                if answers:
                    try:
                        client.sendall(answers)
                    except OSError:
                        break
        finally:
            client.close()
            conn.closed.set()


def open_pty_printer(device: EscposDevice) -> tuple[str, threading.Event, bytearray]:
    """A serial printer on a pseudo-terminal: returns (device path, stop event, received job bytes)."""
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    stop = threading.Event()
    job = bytearray()

    def run() -> None:
        buffer = bytearray()
        with selectors.DefaultSelector() as sel:
            sel.register(master, selectors.EVENT_READ)
            while not stop.is_set():
                if not sel.select(0.05):
                    continue
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                buffer += chunk
                answers = device.feed(buffer, job)
                if answers:
                    os.write(master, answers)
        os.close(master)
        os.close(slave)

    threading.Thread(target=run, name="pty-printer", daemon=True).start()
    return path, stop, job
