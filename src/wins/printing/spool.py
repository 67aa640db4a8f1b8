"""Printing a slip with status checks and retries, and a persistent queue for jobs that failed.

A job counts as printed only when every byte was written *and*, on printers that report status, the
printer answered a status request sent after the job (it arrives after the job on the same connection, so
an answer proves the whole job arrived; a reset or end of stream instead means the job was cut off).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from wins.printing.layout import Slip, SlipOptions, slip_bytes
from wins.printing.printers import (
    ERROR,
    OFFLINE,
    ONLINE,
    UNKNOWN,
    PrinterConnectionError,
    PrinterUrlError,
    connect,
    open_printer,
    parse_printer_url,
    read_status,
    send,
)

logger = logging.getLogger("wins.printing")

STATUS_TIMEOUT = 1.0


@dataclass(frozen=True)
class PrintResult:
    """What happened to a print job, in words a kiosk can show and a server can store."""

    ok: bool  # True only when the job reached the printer whole
    printer_state: str  # online, offline, paper_out, cover_open, error or unknown
    message: str
    attempts: int
    paper_low: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _attempt(url: str, job: bytes, *, timeout: float) -> PrintResult:
    printer = open_printer(url, timeout=timeout)
    try:
        connect(printer)
        # A printer that reports status answers within milliseconds; do not make every slip wait `timeout`
        # on one that never answers.
        before = read_status(printer, timeout=min(timeout, STATUS_TIMEOUT))
        if before.blocking:
            return PrintResult(False, before.state, f"Not printed: {before.detail}.", 1)
        send(printer, job)
        if not before.supported:
            return PrintResult(True, UNKNOWN, "Sent to the printer (it does not report its status).", 1)
        # The printer answers only once it has read the whole job; give it time to work through it.
        after = read_status(printer, timeout=timeout * 2)
        if not after.supported:
            raise PrinterConnectionError("the printer stopped answering after the job")
        if after.blocking:
            return PrintResult(False, after.state, f"Printing may be incomplete: {after.detail}.", 1)
        note = " Paper is running low." if after.paper_low else ""
        return PrintResult(True, ONLINE, f"Printed.{note}", 1, paper_low=after.paper_low)
    finally:
        try:
            printer.close()
        except Exception as exc:  # closing a broken link must not hide the real outcome
            logger.debug("closing printer %s: %s", url, exc)


def print_job(url: str, job: bytes, *, retries: int = 2, timeout: float = 3.0, retry_delay: float = 0.5) -> PrintResult:
    """Send an ESC/POS job, retrying when the printer cannot be reached or the connection breaks.

    Never raises for printer trouble: the result says what happened. A printer that reports paper out,
    cover open or an error is not retried here (it needs a person); the spool tries again later.
    """
    try:
        parse_printer_url(url)
    except PrinterUrlError as exc:
        return PrintResult(False, ERROR, exc.message, 0)
    attempts = 0
    problem = ""
    while attempts <= retries:
        attempts += 1
        try:
            result = _attempt(url, job, timeout=timeout)
        except PrinterConnectionError as exc:
            problem = str(exc)
            logger.warning("print attempt %d on %s failed: %s", attempts, url, problem)
            if attempts <= retries:
                time.sleep(retry_delay * attempts)
            continue
        except Exception as exc:  # a driver bug must not crash the kiosk; report it like any printer fault
            logger.exception("print attempt %d on %s failed unexpectedly", attempts, url)
            return PrintResult(False, ERROR, f"Not printed: printer driver error ({exc}).", attempts)
        result = PrintResult(result.ok, result.printer_state, result.message, attempts, result.paper_low)
        log = logger.info if result.ok else logger.warning
        log("print job on %s: %s (%s)", url, result.printer_state, result.message)
        return result
    times = "once" if attempts == 1 else f"{attempts} times"
    return PrintResult(False, OFFLINE, f"Not printed: {problem} (tried {times}).", attempts)


def print_slip(
    url: str,
    slip: Slip,
    *,
    retries: int = 2,
    timeout: float = 3.0,
    retry_delay: float = 0.5,
    options: SlipOptions | None = None,
) -> PrintResult:
    """Print a ticket slip on the printer at `url` (see `wins.printing.printers`); never raises for printer
    faults."""
    try:
        job = slip_bytes(slip, options, profile=parse_printer_url(url).profile)
    except PrinterUrlError as exc:
        return PrintResult(False, ERROR, exc.message, 0)
    return print_job(url, job, retries=retries, timeout=timeout, retry_delay=retry_delay)


@dataclass(frozen=True)
class SpoolJob:
    id: int
    slip: Slip
    created_at: float
    attempts: int
    last_message: str


ResultCallback = Callable[[SpoolJob, PrintResult], None]


class PrintSpool:
    """A persistent queue of slips still to print, retried by a background thread until they print.

    Jobs live in a SQLite file in `folder`, so a kiosk restart loses nothing. Jobs print in order; when one
    fails the round stops (the printer is down, the next would fail too) and is tried again after
    `interval` seconds, or at once after `wake()`.

        spool = PrintSpool(folder, printer_url, on_result=report).start()
        result = spool.print(slip)   # prints now; on failure keeps the job for later
    """

    def __init__(
        self,
        folder: str | Path,
        url: str,
        *,
        interval: float = 15.0,
        timeout: float = 3.0,
        retries: int = 1,
        options: SlipOptions | None = None,
        on_result: ResultCallback | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "print-spool.sqlite3"
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self.retries = retries
        self.options = options
        self.on_result = on_result
        self.last_result: PrintResult | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._busy = threading.Lock()  # one printing round at a time (thread, print(), run_once())
        self._thread: threading.Thread | None = None
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, slip TEXT NOT NULL, "
                "created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_message TEXT NOT NULL "
                "DEFAULT '')"
            )

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10)) as conn, conn:
            yield conn

    # -- queue ------------------------------------------------------------------------------------

    def add(self, slip: Slip, *, message: str = "", attempts: int = 0, wake: bool = True) -> int:
        """Keep a slip to print later; returns the job id."""
        with self._db() as db:
            cursor = db.execute(
                "INSERT INTO jobs (slip, created_at, attempts, last_message) VALUES (?, ?, ?, ?)",
                (json.dumps(slip.to_dict()), time.time(), attempts, message),
            )
        job_id = int(cursor.lastrowid or 0)
        logger.info("print job %d for %s kept for a later try", job_id, slip.number)
        if wake:
            self._wake.set()
        return job_id

    def pending(self) -> list[SpoolJob]:
        with self._db() as db:
            rows = db.execute("SELECT id, slip, created_at, attempts, last_message FROM jobs ORDER BY id").fetchall()
        return [SpoolJob(r[0], Slip.from_dict(json.loads(r[1])), r[2], r[3], r[4]) for r in rows]

    def discard(self, job_id: int) -> None:
        with self._db() as db:
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    # -- printing ---------------------------------------------------------------------------------

    def _print(self, slip: Slip) -> PrintResult:
        result = print_slip(self.url, slip, retries=self.retries, timeout=self.timeout, options=self.options)
        self.last_result = result
        return result

    def print(self, slip: Slip) -> PrintResult:
        """Print now; if that fails, keep the job for the background retries. Slips still waiting go
        first, so slips come out in the order they were issued."""
        if not self.pending():
            with self._busy:
                result = self._print(slip)
            if not result.ok:
                self.add(slip, message=result.message, attempts=result.attempts, wake=False)
            return result
        job_id = self.add(slip, wake=False)
        results = self.run_once()
        last = results[-1] if results else self.last_result
        if last is not None and not any(job.id == job_id for job in self.pending()):
            return last  # printed (by this round or by the background thread meanwhile)
        if last is None:
            return PrintResult(False, UNKNOWN, "Waiting for earlier slips to print.", 0)
        return PrintResult(False, last.printer_state, last.message, last.attempts, last.paper_low)

    def run_once(self) -> list[PrintResult]:
        """Try the waiting jobs in order until one fails; returns the results of this round."""
        results: list[PrintResult] = []
        with self._busy:
            for job in self.pending():
                if self._stop.is_set():
                    break
                result = self._print(job.slip)
                results.append(result)
                if result.ok:
                    self.discard(job.id)
                    logger.info(
                        "print job %d (%s) printed after %d earlier tries", job.id, job.slip.number, job.attempts
                    )
                else:
                    with self._db() as db:
                        db.execute(
                            "UPDATE jobs SET attempts = attempts + ?, last_message = ? WHERE id = ?",
                            (result.attempts, result.message, job.id),
                        )
                if self.on_result is not None:
                    try:
                        self.on_result(job, result)
                    except Exception:
                        logger.exception("print spool result callback failed")
                if not result.ok:
                    break
        return results

    # -- background thread ------------------------------------------------------------------------

    def start(self) -> PrintSpool:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="wins-print-spool", daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        """Try the waiting jobs now (e.g. after staff refilled the paper)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.run_once()
            except Exception:  # a broken round must not end the thread: jobs would stop printing for good
                logger.exception("print spool round failed")

    def __enter__(self) -> PrintSpool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
