"""Tablets' slips with several workers or hosts on one database (wins.webkiosk.printing): two app instances,
each with its own engine and its own `TabletPrinting`, as two hosts have. A slip kept by a host that dies
(before printing, or after the printer refused it) is printed by the other host once it can be; a repeated
print request on the other host gets the first answer and prints nothing. Both engines."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tests.support.printer_emulator import PrinterEmulator
from tests.support.seed import Seeded
from wins.auth import Principal
from wins.config import Settings
from wins.db import Database
from wins.devices.models import Device
from wins.tickets import issuing
from wins.webkiosk.models import TabletPrintJob
from wins.webkiosk.printing import TabletPrinting

BASE = "http://queue.lan"


@pytest.fixture
def hosts(settings: Settings, seeded: Seeded, printer: PrinterEmulator) -> Iterator[tuple[Database, Database]]:
    """Two hosts' engines on the one database (the seeded branch prints on the emulator)."""
    del seeded
    with_printer = settings.model_copy(update={"printer_url": printer.url})
    a, b = Database(with_printer), Database(with_printer)
    try:
        yield a, b
    finally:
        a.dispose()
        b.dispose()


def _kiosk_ticket(db: Database, seeded: Seeded) -> tuple[int, int]:
    """A ticket the seeded kiosk issued: (ticket id, kiosk device id)."""
    with db.session() as session:
        kiosk = session.scalars(select(Device).where(Device.kind == "kiosk")).first()
        assert kiosk is not None
        issued = issuing.issue(session, service_id=seeded.services["A"], actor=Principal(device=kiosk))
        return issued.ticket_id, kiosk.id


def _job(db: Database, ticket_id: int) -> TabletPrintJob:
    with db.session(write=False) as session:
        job = session.scalars(select(TabletPrintJob).where(TabletPrintJob.ticket_id == ticket_id)).one()
        session.expunge(job)
        return job


def test_a_slip_the_printer_refused_on_a_host_that_then_died_prints_from_the_other_host(
    hosts: tuple[Database, Database], seeded: Seeded, printer: PrinterEmulator
) -> None:
    db_a, db_b = hosts
    a = TabletPrinting(retry_seconds=0.2, hold_seconds=2)
    b = TabletPrinting(retry_seconds=0.2, hold_seconds=2)
    ticket_id, kiosk_id = _kiosk_ticket(db_a, seeded)
    printer.paper = "out"
    first = a.print_ticket(db_a, ticket_id=ticket_id, device_id=kiosk_id, settings=db_a.settings, base_url=BASE)
    assert first["ok"] is False and first["spooled"] is True and first["printer_state"] == "paper_out", first
    assert printer.jobs == []
    # Host A dies (its retry rounds never run). Paper back: host B's rounds print the slip A kept.
    printer.paper = "ok"
    b.start(db_b)
    try:
        (job,) = printer.wait_for_jobs(1, timeout=20)
    finally:
        b.stop()
    number = _job(db_b, ticket_id).slip["number"]
    assert number.encode() in job
    assert _job(db_b, ticket_id).printed_at is not None
    # The tablet asks again, now through host B: the first answer, and no second slip.
    again = b.print_ticket(db_b, ticket_id=ticket_id, device_id=kiosk_id, settings=db_b.settings, base_url=BASE)
    assert again == {**first, "repeated": True}
    assert b.run_once(db_b) == {} and len(printer.jobs) == 1
    with db_b.session(write=False) as session:  # staff see the printer fine again and nothing waiting
        status = session.get(Device, kiosk_id).status  # type: ignore[union-attr]
    assert status["printer"] == "online" and status["spooled_slips"] == 0


def test_a_slip_kept_by_a_host_that_died_before_printing_it_prints_once_its_hold_ends(
    hosts: tuple[Database, Database], seeded: Seeded, printer: PrinterEmulator
) -> None:
    db_a, db_b = hosts
    a = TabletPrinting(retry_seconds=0.2, hold_seconds=1)
    b = TabletPrinting(retry_seconds=0.2, hold_seconds=1)
    ticket_id, kiosk_id = _kiosk_ticket(db_a, seeded)
    spooled = a.spool(db_a, ticket_id=ticket_id, device_id=kiosk_id, settings=db_a.settings, base_url=BASE)
    assert not isinstance(spooled, dict)
    # Host A dies right here, holding the job. While the hold lasts nobody else prints it (A may be printing).
    assert b.run_once(db_b) == {}
    b.start(db_b)
    try:
        printer.wait_for_jobs(1, timeout=20)
    finally:
        b.stop()
    assert _job(db_b, ticket_id).printed_at is not None
    assert b.run_once(db_b) == {} and len(printer.jobs) == 1
    # A second ticket through host B prints at once, as ever.
    second, _ = _kiosk_ticket(db_b, seeded)
    answer = b.print_ticket(db_b, ticket_id=second, device_id=kiosk_id, settings=db_b.settings, base_url=BASE)
    assert answer["ok"] is True and answer["repeated"] is False and len(printer.wait_for_jobs(2)) == 2


def test_slips_of_one_printer_print_in_the_order_they_were_issued(
    hosts: tuple[Database, Database], seeded: Seeded, printer: PrinterEmulator
) -> None:
    db_a, db_b = hosts
    a = TabletPrinting(retry_seconds=60, hold_seconds=60)
    b = TabletPrinting(retry_seconds=60, hold_seconds=60)
    printer.paper = "out"
    first, kiosk_id = _kiosk_ticket(db_a, seeded)
    assert not a.print_ticket(db_a, ticket_id=first, device_id=kiosk_id, settings=db_a.settings, base_url=BASE)["ok"]
    printer.paper = "ok"
    with db_a.session() as session:  # due now (not in a minute): the next print request takes it first
        session.get(TabletPrintJob, _job(db_a, first).id).due_at = _job(db_a, first).created_at  # type: ignore[union-attr]
    second, _ = _kiosk_ticket(db_b, seeded)
    answer = b.print_ticket(db_b, ticket_id=second, device_id=kiosk_id, settings=db_b.settings, base_url=BASE)
    assert answer["ok"] is True
    jobs = printer.wait_for_jobs(2)
    numbers = [_job(db_b, t).slip["number"].encode() for t in (first, second)]
    assert numbers[0] in jobs[0] and numbers[1] in jobs[1]


def test_two_tablets_at_once_on_two_hosts_the_second_slip_waits_behind_the_first(
    hosts: tuple[Database, Database], seeded: Seeded, printer: PrinterEmulator
) -> None:
    db_a, db_b = hosts
    a = TabletPrinting(retry_seconds=60, hold_seconds=60)
    b = TabletPrinting(retry_seconds=60, hold_seconds=60, wait_behind=30)
    first, kiosk_id = _kiosk_ticket(db_a, seeded)
    second, _ = _kiosk_ticket(db_b, seeded)
    # Host A has kept the first slip and is about to print it when the second tablet's request reaches host B.
    spooled = a.spool(db_a, ticket_id=first, device_id=kiosk_id, settings=db_a.settings, base_url=BASE)
    assert not isinstance(spooled, dict)
    answers: dict[str, dict[str, object]] = {}

    def second_tablet() -> None:
        answers["b"] = b.print_ticket(db_b, ticket_id=second, device_id=kiosk_id, settings=db_b.settings, base_url=BASE)

    tablet = threading.Thread(target=second_tablet)
    tablet.start()
    answers["a"] = a._print_spooled(db_a, spooled, kiosk_id)  # the first request's own print, after its spool()
    tablet.join()
    # Both printed at the tablets' requests (none left to a later round), first slip first.
    assert answers["a"]["ok"] is True and answers["b"]["ok"] is True, answers
    jobs = printer.wait_for_jobs(2)
    numbers = [_job(db_b, t).slip["number"].encode() for t in (first, second)]
    assert numbers[0] in jobs[0] and numbers[1] in jobs[1] and len(printer.jobs) == 2
