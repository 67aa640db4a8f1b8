"""Slips for tablets: a tablet cannot reach a ticket printer, so the server prints on the branch's network printer.

As the Kivy kiosk's printer does (wins.printing.spool): print now; on a fault keep the slip and retry it; the
printer's state is reported as the kiosk device's status, which the staff pages already show as a warning
("paper out"). The slips waiting are kept in the database (`TabletPrintJob`), not in one host's files, so with
several workers and hosts (docs/deployment.md, "Several hosts") any of them prints a slip another one took and
could not finish:

- Taking a job is one conditional UPDATE on its `due_at` (as the SMS outbox does): the worker that wins holds it
  for `hold_seconds`, longer than any print attempt lasts; a host that dies holding it (before or while
  printing) lets it fall due again when the hold ends, and another worker's retry round takes it. A slip is
  printed at least once: a host that dies after the printer took the slip and before recording it may cause
  a second copy, never a lost one.
- Every worker runs a retry round every `retry_seconds` (one indexed query when nothing waits), so a slip that
  waits (paper out, printer off, its host gone) prints within `hold_seconds + retry_seconds` of becoming
  printable.
- Slips of one printer print in the order they were issued, however many workers' rounds run at once: a round
  stops at a slip it may not print now (another worker holds it, or it waits for its next try), and a new slip
  waits behind older ones still waiting.
- Slips an older version kept in files (`<data_dir>/tablet-spool`) are moved into the table as the retry rounds
  start (wins.webkiosk.old_spool), once, and printed.

A print request is answered once per ticket (the job's stored answer): a tablet that lost the answer (Wi-Fi)
and asks again, on any worker or host, gets the first answer, never a second slip.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from wins import clock
from wins.branches.models import Branch
from wins.config import Settings
from wins.db import Database
from wins.devices import service as devices
from wins.errors import NotFound, PermissionDenied
from wins.printing.layout import Slip
from wins.printing.printers import UNKNOWN, PrinterNotConfigured
from wins.printing.service import printer_url_for, slip_for_ticket
from wins.printing.spool import PrintResult, print_slip
from wins.tickets import views as tickets
from wins.webkiosk.models import TabletPrintJob
from wins.webkiosk.old_spool import import_old_spool

logger = logging.getLogger(__name__)

KEEP_PRINTED = timedelta(days=1)  # printed jobs answer repeated requests this long, then go
ROUND = 50  # jobs one round takes at most per printer
NO_PRINTER = {"ok": False, "printer_state": "none", "message": "No printer: the screen is the ticket."}
SWEEP_SECONDS = 3600.0  # how often a worker deletes the printed jobs past KEEP_PRINTED


class Spooled(NamedTuple):
    """A job just kept, held by the worker that keeps it until `held` (it prints it at once)."""

    job_id: int
    held: datetime
    url: str


class TabletPrinting:
    def __init__(self, *, retry_seconds: float = 15.0, hold_seconds: float = 60.0, wait_behind: float = 10.0) -> None:
        self.retry_seconds = retry_seconds
        self.wait_behind = wait_behind  # how long a print request waits for older slips another worker prints
        self.hold_seconds = hold_seconds  # > the longest print attempt (print_slip, retries=1: about 25 s)
        self.owner = uuid.uuid4().hex  # for the log: which worker printed
        self._lock = threading.Lock()
        self._ticket_locks: dict[int, threading.Lock] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_sweep = 0.0

    @staticmethod
    def printer_configured(branch: Branch, settings: Settings) -> bool:
        """Whether the kiosk's own branch has a ticket printer (its `printer_url`, else WINS_PRINTER_URL)."""
        try:
            printer_url_for(branch, settings)
        except PrinterNotConfigured:
            return False
        except Exception:  # a bad URL is still "a printer the site wants": the print reports the fault
            return True
        return True

    # -- the print request ------------------------------------------------------------------------

    def print_ticket(
        self, db: Database, *, ticket_id: int, device_id: int, settings: Settings, base_url: str
    ) -> dict[str, Any]:
        """Print the slip of a ticket this kiosk issued; a repeated request gets the first answer."""
        with self._lock:
            lock = self._ticket_locks.setdefault(ticket_id, threading.Lock())
        try:
            with lock:  # a repeat on this worker waits for the first answer; on another one, see _answer_of
                return self._print_ticket(
                    db, ticket_id=ticket_id, device_id=device_id, settings=settings, base_url=base_url
                )
        finally:
            with self._lock:
                self._ticket_locks.pop(ticket_id, None)

    def _print_ticket(
        self, db: Database, *, ticket_id: int, device_id: int, settings: Settings, base_url: str
    ) -> dict[str, Any]:
        spooled = self.spool(db, ticket_id=ticket_id, device_id=device_id, settings=settings, base_url=base_url)
        if isinstance(spooled, dict):
            return spooled
        return self._print_spooled(db, spooled, device_id)

    def spool(
        self, db: Database, *, ticket_id: int, device_id: int, settings: Settings, base_url: str
    ) -> Spooled | dict[str, Any]:
        """Keep the ticket's slip as a job held by this worker; or the answer, when there is nothing to print
        (no printer) or the ticket's slip was asked for before."""
        with db.session(write=False) as session:
            ticket = tickets.get_ticket(session, ticket_id)
            if ticket.issued_by_device_id != device_id:
                raise PermissionDenied("A kiosk prints only the tickets it issued.")
            if session.scalar(select(TabletPrintJob.id).where(TabletPrintJob.ticket_id == ticket_id)) is not None:
                answered = True
            else:
                answered = False
                slip, branch = slip_for_ticket(session, ticket_id, settings=settings, base_url=base_url)
                try:
                    url: str | None = printer_url_for(branch, settings)
                except PrinterNotConfigured:
                    url = None
        if answered:
            return self._answer_of(db, ticket_id)
        if url is None:
            return {**NO_PRINTER, "repeated": False}
        held = self._hold()
        job = TabletPrintJob(
            ticket_id=ticket_id, device_id=device_id, printer_url=url, slip=slip.to_dict(), due_at=held
        )
        try:
            with db.session() as session:
                session.add(job)
                session.flush()
                return Spooled(job.id, held, url)
        except IntegrityError:  # the same request at once on another worker or host: its answer
            return self._answer_of(db, ticket_id)

    def _print_spooled(self, db: Database, spooled: Spooled, device_id: int) -> dict[str, Any]:
        """Print a job this worker holds (older slips of its printer first) and store the first answer. Behind an
        older slip another worker is printing (two tablets at once), wait for it a little rather than answer
        "not printed" and leave this one to the next round."""
        job_id, held, url = spooled
        deadline = time.monotonic() + self.wait_behind
        while True:
            results = self._round(db, url, own=(job_id, held))
            result = results.get(job_id)
            if result is not None or any(not r.ok for r in results.values()) or time.monotonic() >= deadline:
                break  # printed (or tried); an older one failed; or waited long enough (it waits for its retry)
            time.sleep(0.2)
        if result is None:  # an older slip failed first or is still held: this one waits behind it
            last = next(reversed(results.values()), None)
            message = last.message if last else "Waiting for earlier slips to print."
            result = PrintResult(False, last.printer_state if last else UNKNOWN, message, 0)
            self._release(db, job_id, held)
        answer = {**result.to_dict(), "spooled": not result.ok}
        with db.session() as session:
            session.execute(
                update(TabletPrintJob)
                .where(TabletPrintJob.id == job_id, TabletPrintJob.answer.is_(None))
                .values(answer=answer)
                .execution_options(synchronize_session=False)
            )
        self._report(db, device_id, url, result)
        return {**answer, "repeated": False}

    def _answer_of(self, db: Database, ticket_id: int, *, wait: float = 10.0) -> dict[str, Any]:
        """The first answer for this ticket; while another worker is still printing it, wait a little for it."""
        deadline = time.monotonic() + wait
        while True:
            with db.session(write=False) as session:
                answer = session.scalar(select(TabletPrintJob.answer).where(TabletPrintJob.ticket_id == ticket_id))
            if answer is not None or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if answer is None:
            answer = {"ok": False, "printer_state": UNKNOWN, "message": "Printing.", "attempts": 0, "spooled": True}
        return {**answer, "repeated": True}

    # -- taking, printing and settling jobs ---------------------------------------------------------

    def _hold(self) -> datetime:
        return clock.utcnow() + timedelta(seconds=self.hold_seconds)

    def _round(
        self, db: Database, url: str, *, own: tuple[int, datetime] | None = None, background: bool = False
    ) -> dict[int, PrintResult]:
        """Print the jobs of printer `url` in order (`own` is held by this caller already), until one fails or one
        is not ours to print now: held by another worker (printing it, or dead: its hold runs out) or waiting for its
        next try. Then the later ones wait too, so that with several workers' rounds at once slips still come out in
        the order they were issued. `background`: the retry thread's round, cut short when the app stops."""
        now = clock.utcnow()
        with db.session(write=False) as session:
            rows = session.execute(
                select(TabletPrintJob.id, TabletPrintJob.due_at, TabletPrintJob.slip, TabletPrintJob.device_id)
                .where(TabletPrintJob.printed_at.is_(None), TabletPrintJob.printer_url == url)
                .order_by(TabletPrintJob.id)
                .limit(ROUND)
            ).all()
        results: dict[int, PrintResult] = {}
        for job_id, seen, slip, device_id in rows:
            if background and self._stop.is_set():
                break
            if own is not None and job_id == own[0]:
                held = own[1]
            elif seen > now:
                break  # an older slip held or waiting: this round prints nothing after it
            elif (taken := self._take(db, job_id, seen)) is not None:
                held = taken
            else:
                break  # another worker took it meanwhile: its round prints the rest in order
            result = print_slip(url, Slip.from_dict(slip), retries=1)
            self._settle(db, job_id, held, result)
            results[job_id] = result
            logger.info("tablet slip %s (job %d) by %s: %s", slip.get("number"), job_id, self.owner, result.message)
            if own is None or job_id != own[0]:
                self._report(db, device_id, url, result)
            if not result.ok:
                break  # the printer is down: the next would fail too
        return results

    def _take(self, db: Database, job_id: int, seen: datetime) -> datetime | None:
        """Hold a job for printing: only if its `due_at` is still what we read (the one UPDATE that wins)."""
        held = self._hold()
        with db.session() as session:
            taken = session.execute(
                update(TabletPrintJob)
                .where(TabletPrintJob.id == job_id, TabletPrintJob.due_at == seen, TabletPrintJob.printed_at.is_(None))
                .values(due_at=held)
                .execution_options(synchronize_session=False)
            )
            return held if getattr(taken, "rowcount", 0) == 1 else None

    def _settle(self, db: Database, job_id: int, held: datetime, result: PrintResult) -> None:
        with db.session() as session:
            if result.ok:  # printed is printed, even if our hold ran out meanwhile
                values: dict[str, Any] = {"printed_at": clock.utcnow()}
                mine = TabletPrintJob.id == job_id
            else:
                values = {
                    "attempts": TabletPrintJob.attempts + result.attempts,
                    "last_message": result.message[:500],
                    "due_at": clock.utcnow() + timedelta(seconds=self.retry_seconds),
                }
                mine = (TabletPrintJob.id == job_id) & (TabletPrintJob.due_at == held)
            session.execute(
                update(TabletPrintJob).where(mine).values(**values).execution_options(synchronize_session=False)
            )

    def _release(self, db: Database, job_id: int, held: datetime) -> None:
        """Give back a job held but not tried: due at the next retry round."""
        with db.session() as session:
            session.execute(
                update(TabletPrintJob)
                .where(TabletPrintJob.id == job_id, TabletPrintJob.due_at == held)
                .values(due_at=clock.utcnow())
                .execution_options(synchronize_session=False)
            )

    def pending(self, db: Database, url: str | None = None) -> int:
        """Slips not printed yet (of printer `url`, or of every printer)."""
        query = select(func.count()).select_from(TabletPrintJob).where(TabletPrintJob.printed_at.is_(None))
        if url is not None:
            query = query.where(TabletPrintJob.printer_url == url)
        with db.session(write=False) as session:
            return int(session.scalar(query) or 0)

    def _report(self, db: Database, device_id: int | None, url: str, result: PrintResult) -> None:
        """The printer's state as the kiosk's status, as the Kivy kiosk reports it: staff pages warn."""
        if device_id is None:
            return
        status = {
            "printer": result.printer_state,
            "printer_message": result.message,
            "paper_low": result.paper_low,
            "spooled_slips": self.pending(db, url),
        }
        try:
            with db.session() as session:
                device = devices.get_device(session, device_id)
                devices.report_status(session, device, status={**device.status, **status})
        except NotFound:
            logger.warning("kiosk %d is gone: printer state not recorded", device_id)

    # -- the retry rounds ---------------------------------------------------------------------------

    def run_once(self, db: Database, *, background: bool = False) -> dict[int, PrintResult]:
        """One retry round: every printer with due slips, oldest first; printed jobs past KEEP_PRINTED go."""
        now = clock.utcnow()
        with db.session(write=False) as session:
            urls = list(
                session.scalars(
                    select(TabletPrintJob.printer_url)
                    .where(TabletPrintJob.printed_at.is_(None), TabletPrintJob.due_at <= now)
                    .group_by(TabletPrintJob.printer_url)
                )
            )
        results: dict[int, PrintResult] = {}
        for url in urls:
            results.update(self._round(db, url, background=background))
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + SWEEP_SECONDS
            with db.session() as session:
                session.execute(delete(TabletPrintJob).where(TabletPrintJob.printed_at < now - KEEP_PRINTED))
        return results

    def start(self, db: Database) -> TabletPrinting:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, args=(db,), name="wins-tablet-print", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, db: Database) -> None:
        try:
            # Slips an older version left in files (before 0017): into the table once, printed by this first round.
            moved = import_old_spool(db)
            if moved is not None and moved.moved:
                self.run_once(db, background=True)
        except Exception:  # the files stay where they are: the next start tries again
            logger.exception("moving the old tablet spool into the database failed")
        while not self._stop.wait(self.retry_seconds):
            try:
                self.run_once(db, background=True)
            except Exception:  # a broken round must not end the thread: slips would stop printing for good
                logger.exception("tablet print round failed")
