"""Tablets' slips an older version kept in files, moved into the database once (upgrade to 0017_tablet_print_jobs).

Before 0017 a slip the printer refused waited in `<data_dir>/tablet-spool/<first 16 hex digits of the printer URL's
SHA-256>/print-spool.sqlite3`, the file of `wins.printing.spool.PrintSpool` (table `jobs`: the slip as JSON, when it
was kept, tries, last message), retried by the worker that kept it. The new version never reads those files, so a
slip still in one at the upgrade would never print: a customer's ticket lost. Each worker, as its retry rounds start
(`TabletPrinting.start`), moves them into `tablet_print_jobs`:

- One job per ticket, as for every tablet slip: the insert skips a ticket that has one (the table's unique
  `ticket_id`), so workers that start together, or a start after a crash between the commit and the rename below,
  never make a second job; nor does a print request for that ticket that came first.
- Then the folder is renamed `tablet-spool.imported-<UTC time>` (one rename wins; the others find it gone), so no
  later start reads it again; kept, not deleted, for whoever wants to see what was moved or left.
- The ticket is found by the tracking token at the end of the slip's tracking link; the slip prints on the printer
  of the ticket's branch now (the folder names only a hash of the URL it was kept for). A slip whose ticket is gone,
  or whose branch has no printer now, cannot print: it is left in the renamed folder and counted in the log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from wins import clock
from wins.branches.models import Branch
from wins.config import Settings
from wins.db import Database
from wins.printing.layout import Slip
from wins.printing.printers import UNKNOWN, PrinterNotConfigured, PrinterUrlError
from wins.printing.service import printer_url_for
from wins.tickets.models import Ticket
from wins.webkiosk.models import TabletPrintJob

logger = logging.getLogger("wins.webkiosk.printing")

FOLDER = "tablet-spool"  # in the data folder
SPOOL_FILE = "print-spool.sqlite3"  # wins.printing.spool.PrintSpool's file in each printer's folder


@dataclass(frozen=True)
class OldJob:
    folder: str  # the printer's folder: a hash of the URL the slip was kept for
    slip: Slip
    kept_at: float  # Unix time
    attempts: int
    last_message: str


@dataclass(frozen=True)
class Moved:
    """What one worker's import did: `moved` jobs it added, `already` there (another worker's, or a print request's),
    `left` that cannot print (ticket gone, no printer), spool files `unreadable`, and where the old files now are."""

    moved: int
    already: int
    left: int
    unreadable: int
    kept_in: Path | None


def _read(spool: Path) -> list[OldJob]:
    """The jobs of one old spool file, read only (a worker that renamed the folder meanwhile: nothing)."""
    uri = f"{spool.resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
        rows = conn.execute("SELECT slip, created_at, attempts, last_message FROM jobs ORDER BY id").fetchall()
    folder = spool.parent.name
    return [OldJob(folder, Slip.from_dict(json.loads(r[0])), float(r[1]), int(r[2]), str(r[3])) for r in rows]


def _old_jobs(folder: Path) -> tuple[list[OldJob], int]:
    """Every old job, in the order they were kept (across printers), and how many spool files could not be read."""
    jobs: list[OldJob] = []
    unreadable = 0
    for spool in sorted(folder.glob(f"*/{SPOOL_FILE}")):
        try:
            jobs.extend(_read(spool))
        except (sqlite3.Error, ValueError, TypeError, KeyError) as exc:
            if not spool.exists():
                continue  # another worker renamed the folder meanwhile: it moves these
            unreadable += 1
            logger.warning("old tablet spool %s not readable (%s): its slips are not moved", spool, exc)
    return sorted(jobs, key=lambda job: job.kept_at), unreadable


def _token(slip: Slip) -> str:
    return urlsplit(slip.tracking_url).path.rsplit("/t/", 1)[-1]


def _job_values(session: Session, job: OldJob, *, settings: Settings, now: datetime) -> dict[str, Any] | None:
    """The new job for an old one, or None when it cannot print."""
    ticket = session.scalar(select(Ticket).where(Ticket.tracking_token == _token(job.slip)))
    if ticket is None:
        logger.warning("old tablet slip %s: its ticket is gone, not moved", job.slip.number)
        return None
    branch = session.get(Branch, ticket.branch_id)
    if branch is None:  # not while the ticket is there (foreign key); for the type checker
        return None
    try:
        url = printer_url_for(branch, settings)
    except (PrinterNotConfigured, PrinterUrlError) as exc:
        logger.warning("old tablet slip %s: %s Not moved.", job.slip.number, exc.message)
        return None
    if hashlib.sha256(url.encode()).hexdigest()[:16] != job.folder:
        logger.info("old tablet slip %s was kept for another printer: it prints on %s", job.slip.number, url)
    message = job.last_message[:500]
    return {
        "ticket_id": ticket.id,
        "device_id": ticket.issued_by_device_id,
        "printer_url": url,
        "slip": job.slip.to_dict(),
        "created_at": datetime.fromtimestamp(job.kept_at, UTC),
        "due_at": now,
        "attempts": job.attempts,
        "last_message": message,
        # The tablet was told "kept, will print" back then; a repeated request gets that, not a second slip.
        "answer": {
            "ok": False,
            "printer_state": UNKNOWN,
            "message": message or "Kept for a later try.",
            "attempts": job.attempts,
            "paper_low": False,
            "spooled": True,
        },
    }


def import_old_spool(db: Database) -> Moved | None:
    """Move the slips an older version left in `<data_dir>/tablet-spool` into `tablet_print_jobs` (see the module's
    docstring); None when there is no such folder (every start after the first), or when another worker starting
    at the same time moved it while this one was reading it (that worker moves the slips and reports them)."""
    folder = Path(db.settings.data_dir) / FOLDER
    if not folder.is_dir():
        return None
    jobs, unreadable = _old_jobs(folder)
    if not folder.is_dir():  # renamed under this read, which may have missed some: the other worker has them all
        return None
    moved = already = left = 0
    now = clock.utcnow()
    with db.session() as session:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        for job in jobs:
            values = _job_values(session, job, settings=db.settings, now=now)
            if values is None:
                left += 1
                continue
            added = session.scalar(  # RETURNING: psycopg gives this INSERT's rowcount as -1
                insert(TabletPrintJob)
                .values(values)
                .on_conflict_do_nothing(index_elements=["ticket_id"])
                .returning(TabletPrintJob.id)
            )
            if added is not None:
                moved += 1
            else:
                already += 1
    target = folder.with_name(f"{FOLDER}.imported-{now.strftime('%Y%m%dT%H%M%S%fZ')}")
    kept_in: Path | None = target
    try:
        folder.rename(target)
    except FileNotFoundError:  # another worker moved the same slips (its inserts or ours won: one job each)
        kept_in = None
    result = Moved(moved, already, left, unreadable, kept_in)
    log = logger.warning if left or unreadable else logger.info
    log(
        "tablet slips from an older version: %d moved from %s into the database, %d there already, %d left (cannot "
        "print), %d spool files unreadable%s",
        moved,
        folder,
        already,
        left,
        unreadable,
        f"; the old files are now in {kept_in}" if kept_in else "",
    )
    return result
