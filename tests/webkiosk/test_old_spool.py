"""Upgrading to 0017 with tablets' slips still waiting in the old spool files (wins.webkiosk.old_spool): they are built
with the old code (`PrintSpool` in `<data_dir>/tablet-spool/<hash of the printer URL>`, the printer refusing, so they
stay), then the new app starts on that data folder with the printer back: each slip's ESC/POS bytes arrive once,
however many workers start. Both engines."""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.printing.conftest import make_slip
from tests.support.printer_emulator import PrinterEmulator
from tests.support.seed import Seeded
from wins.app import create_app
from wins.auth import Principal
from wins.config import Settings
from wins.db import Database
from wins.devices.models import Device
from wins.printing import PrintSpool, Slip, slip_bytes
from wins.printing.service import slip_for_ticket
from wins.tickets import issuing
from wins.webkiosk.models import TabletPrintJob
from wins.webkiosk.old_spool import Moved, import_old_spool
from wins.webkiosk.printing import TabletPrinting

BASE = "http://queue.lan"


@pytest.fixture
def site(settings: Settings, seeded: Seeded, printer: PrinterEmulator) -> Settings:
    """The seeded site printing on the emulator (WINS_PRINTER_URL)."""
    del seeded
    return settings.model_copy(update={"printer_url": printer.url})


def old_spool(settings: Settings, url: str) -> PrintSpool:
    """The spool the version before 0017 kept for printer `url` (wins.webkiosk.printing as it was then)."""
    folder = Path(settings.data_dir) / "tablet-spool" / hashlib.sha256(url.encode()).hexdigest()[:16]
    return PrintSpool(folder, url, retries=0)


def kiosk_slips(settings: Settings, seeded: Seeded, count: int) -> list[tuple[int, Slip]]:
    """Tickets the seeded kiosk issued, and their slips as the old version made them: (ticket id, slip)."""
    db = Database(settings)
    try:
        with db.session() as session:
            kiosk = session.scalars(select(Device).where(Device.kind == "kiosk")).first()
            assert kiosk is not None
            ids = [
                issuing.issue(session, service_id=seeded.services["A"], actor=Principal(device=kiosk)).ticket_id
                for _ in range(count)
            ]
        with db.session(write=False) as session:
            return [(i, slip_for_ticket(session, i, settings=settings, base_url=BASE)[0]) for i in ids]
    finally:
        db.dispose()


def kept_by_the_old_version(settings: Settings, printer: PrinterEmulator, slips: list[Slip]) -> None:
    """The old spool's first try, printer refusing: each slip stays in the file (no retry thread: the old server
    is stopped for the upgrade)."""
    printer.refuse_connections()
    spool = old_spool(settings, printer.url)
    for slip in slips:
        assert spool.print(slip).ok is False
    assert [job.slip for job in spool.pending()] == slips
    printer.accept_connections()


def jobs(settings: Settings) -> list[TabletPrintJob]:
    db = Database(settings)
    try:
        with db.session(write=False) as session:
            rows = list(session.scalars(select(TabletPrintJob).order_by(TabletPrintJob.id)))
            session.expunge_all()
            return rows
    finally:
        db.dispose()


def test_a_slip_left_in_the_old_spool_prints_once_when_the_new_version_starts(
    site: Settings, seeded: Seeded, printer: PrinterEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    ((ticket_id, slip),) = kiosk_slips(site, seeded, 1)
    kept_by_the_old_version(site, printer, [slip])
    data = Path(site.data_dir)
    with caplog.at_level(logging.INFO, logger="wins.webkiosk.printing"), TestClient(create_app(site)) as client:
        assert printer.wait_for_jobs(1, timeout=20) == [slip_bytes(slip)]
        printing: TabletPrinting = client.app.state.tablet_printing  # type: ignore[attr-defined]
        db: Database = client.app.state.db  # type: ignore[attr-defined]
        printing.stop()  # its first round printed the slip; no more rounds behind the test's back
        assert printing.run_once(db) == {}  # printed and recorded: nothing due
        # The tablet that asked back then asks again (lost answer): it is told what it was told, no second slip.
        again = printing.print_ticket(db, ticket_id=ticket_id, device_id=jobs(site)[0].device_id or 0, settings=site,
                                      base_url=BASE)  # fmt: skip
        assert again["repeated"] is True and again["spooled"] is True
    (job,) = jobs(site)
    assert job.ticket_id == ticket_id and job.printed_at is not None and job.printer_url == printer.url
    moved = [r.getMessage() for r in caplog.records if "older version" in r.getMessage()]
    assert len(moved) == 1 and "1 moved" in moved[0] and "0 left" in moved[0], moved
    # The old files are kept aside, never read again: a restart (another worker) imports and prints nothing more.
    assert not (data / "tablet-spool").exists()
    assert len(list(data.glob("tablet-spool.imported-*/*/print-spool.sqlite3"))) == 1
    with TestClient(create_app(site)) as client:
        printing = client.app.state.tablet_printing  # type: ignore[attr-defined]
        printing.stop()
        assert printing.run_once(client.app.state.db) == {}  # type: ignore[attr-defined]
    assert len(printer.jobs) == 1 and len(jobs(site)) == 1


def test_workers_starting_together_move_each_slip_once(
    site: Settings, seeded: Seeded, printer: PrinterEmulator
) -> None:
    tickets = kiosk_slips(site, seeded, 3)
    gone = make_slip(number="A099", tracking_url=f"{BASE}/t/no-such-ticket")  # its ticket was deleted since
    kept_by_the_old_version(site, printer, [slip for _, slip in tickets] + [gone])
    broken = Path(site.data_dir) / "tablet-spool" / ("0" * 16)  # another printer's file, damaged: told, not fatal
    broken.mkdir()
    (broken / "print-spool.sqlite3").write_bytes(b"not a database")
    workers = [Database(site) for _ in range(3)]  # three workers' engines, one data folder
    start = threading.Barrier(len(workers))
    results: list[Moved | None] = []

    def start_up(db: Database) -> None:
        start.wait()
        results.append(import_old_spool(db))

    threads = [threading.Thread(target=start_up, args=(db,)) for db in workers]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        moved = [r for r in results if r is not None]
        assert sum(r.moved for r in moved) == 3
        assert all(r.left == 1 and r.unreadable == 1 for r in moved)
        assert [j.ticket_id for j in jobs(site)] == [t for t, _ in tickets]  # one each, in the order kept
        assert len([r for r in moved if r.kept_in is not None]) == 1
        # A worker that read the files before the rename (or a crash between commit and rename): nothing twice.
        (kept,) = Path(site.data_dir).glob("tablet-spool.imported-*")
        kept.rename(Path(site.data_dir) / "tablet-spool")
        again = import_old_spool(workers[0])
        assert again is not None and (again.moved, again.already, again.left, again.unreadable) == (0, 3, 1, 1)
        # Each worker's retry rounds: every slip prints once, in the order issued.
        rounds = [TabletPrinting(retry_seconds=0.2) for _ in workers]
        for printing, db in zip(rounds, workers, strict=True):
            printing.start(db)
        try:
            printed = printer.wait_for_jobs(3, timeout=20)
        finally:
            for printing in rounds:
                printing.stop()
        assert printed == [slip_bytes(slip) for _, slip in tickets]
        with workers[0].session(write=False) as session:
            waiting = session.scalar(
                select(func.count()).select_from(TabletPrintJob).where(TabletPrintJob.printed_at.is_(None))
            )
        assert waiting == 0 and len(printer.jobs) == 3
    finally:
        for db in workers:
            db.dispose()
