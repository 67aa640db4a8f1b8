"""Slips for tablets: a tablet cannot reach a ticket printer, so the server prints on the branch's network printer.

The same parts as the Kivy kiosk's printer: `PrintSpool` (print now; on a fault keep the slip in a persistent
queue and retry it), and the printer's state reported as the kiosk device's status, which the staff pages
already show as a warning ("paper out"). One spool per printer URL, in the server's data folder.

A print request is answered once per ticket: a tablet that lost the answer (Wi-Fi) and asks again gets the
first answer, never a second slip.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from wins.branches.models import Branch
from wins.config import Settings
from wins.db import Database
from wins.devices import service as devices
from wins.errors import NotFound, PermissionDenied
from wins.printing.printers import PrinterNotConfigured
from wins.printing.service import printer_url_for, slip_for_ticket
from wins.printing.spool import PrintResult, PrintSpool, SpoolJob
from wins.tickets import views as tickets

logger = logging.getLogger(__name__)

REMEMBERED = 2000  # answers kept for repeated print requests


class TabletPrinting:
    def __init__(self, folder: Path, *, retry_seconds: float = 15.0) -> None:
        self.folder = folder
        self.retry_seconds = retry_seconds
        self._spools: dict[str, PrintSpool] = {}
        self._answers: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._ticket_locks: dict[int, threading.Lock] = {}

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

    def _spool(self, url: str, db: Database, device_id: int) -> PrintSpool:
        with self._lock:
            spool = self._spools.get(url)
            if spool is None:
                folder = self.folder / hashlib.sha256(url.encode()).hexdigest()[:16]

                def retried(job: SpoolJob, result: PrintResult) -> None:
                    logger.info("spooled slip %s: %s", job.slip.number, result.message)
                    self._report(db, device_id, spool_ref[0], result)

                spool_ref: list[PrintSpool] = []
                spool = PrintSpool(folder, url, interval=self.retry_seconds, retries=1, on_result=retried)
                spool_ref.append(spool)
                spool.start()
                self._spools[url] = spool
            return spool

    def print_ticket(
        self, db: Database, *, ticket_id: int, device_id: int, settings: Settings, base_url: str
    ) -> dict[str, Any]:
        """Print the slip of a ticket this kiosk issued; a repeated request gets the first answer."""
        with self._lock:
            lock = self._ticket_locks.setdefault(ticket_id, threading.Lock())
        with lock:
            answer = self._answers.get(ticket_id)
            if answer is not None:
                return {**answer, "repeated": True}
            with db.session(write=False) as session:
                ticket = tickets.get_ticket(session, ticket_id)
                if ticket.issued_by_device_id != device_id:
                    raise PermissionDenied("A kiosk prints only the tickets it issued.")
                slip, branch = slip_for_ticket(session, ticket_id, settings=settings, base_url=base_url)
                try:
                    url = printer_url_for(branch, settings)
                except PrinterNotConfigured:
                    url = None
            if url is None:
                answer = {"ok": False, "printer_state": "none", "message": "No printer: the screen is the ticket."}
            else:
                spool = self._spool(url, db, device_id)
                result = spool.print(slip)
                self._report(db, device_id, spool, result)
                answer = {**result.to_dict(), "spooled": not result.ok}
            self._answers[ticket_id] = answer
            while len(self._answers) > REMEMBERED:
                old, _ = self._answers.popitem(last=False)
                self._ticket_locks.pop(old, None)
            return {**answer, "repeated": False}

    def _report(self, db: Database, device_id: int, spool: PrintSpool, result: PrintResult) -> None:
        """The printer's state as the kiosk's status, as the Kivy kiosk reports it: staff pages warn."""
        status = {
            "printer": result.printer_state,
            "printer_message": result.message,
            "paper_low": result.paper_low,
            "spooled_slips": len(spool.pending()),
        }
        try:
            with db.session() as session:
                device = devices.get_device(session, device_id)
                devices.report_status(session, device, status={**device.status, **status})
        except NotFound:
            logger.warning("kiosk %d is gone: printer state not recorded", device_id)

    def stop(self) -> None:
        for spool in self._spools.values():
            spool.stop()
