"""PrintSpool: a failed slip is kept on disk and printed once the printer is back; nothing is lost."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.printing.conftest import make_slip
from tests.support.printer_emulator import PrinterEmulator
from wins.printing import PrintResult, PrintSpool, Slip, SpoolJob, slip_bytes


def test_a_failed_job_is_printed_later(tmp_path: Path, emulator: PrinterEmulator, slip: Slip) -> None:
    spool = PrintSpool(tmp_path, emulator.url, retries=0)
    emulator.refuse_connections()
    result = spool.print(slip)
    assert not result.ok and result.printer_state == "offline"
    assert [job.slip for job in spool.pending()] == [slip]

    assert spool.run_once()[0].ok is False  # still down: kept
    assert len(spool.pending()) == 1 and spool.pending()[0].attempts == 2

    emulator.accept_connections()
    results = spool.run_once()
    assert [r.ok for r in results] == [True]
    assert spool.pending() == []
    assert emulator.wait_for_jobs(1) == [slip_bytes(slip)]


def test_the_background_thread_retries_and_reports(tmp_path: Path, emulator: PrinterEmulator) -> None:
    reports: list[tuple[SpoolJob, PrintResult]] = []
    printed = threading.Event()

    def on_result(job: SpoolJob, result: PrintResult) -> None:
        reports.append((job, result))
        if result.ok:
            printed.set()

    emulator.paper = "out"
    with PrintSpool(tmp_path, emulator.url, interval=0.1, on_result=on_result) as spool:
        first = spool.print(make_slip(number="A001"))
        assert not first.ok and first.printer_state == "paper_out"
        assert printed.wait(0.5) is False  # retried in the background, still no paper
        assert any(r.printer_state == "paper_out" for _, r in reports)
        emulator.paper = "ok"  # staff refill the paper
        assert printed.wait(5)
        assert spool.pending() == []
    assert emulator.wait_for_jobs(1) == [slip_bytes(make_slip(number="A001"))]
    assert reports[-1][0].slip.number == "A001" and reports[-1][1].ok


def test_jobs_survive_a_restart_and_print_in_order(tmp_path: Path, emulator: PrinterEmulator) -> None:
    emulator.refuse_connections()
    spool = PrintSpool(tmp_path, emulator.url, retries=0)
    for number in ("A001", "A002"):
        assert not spool.print(make_slip(number=number)).ok
    # A third slip while earlier ones wait: it queues behind them instead of jumping ahead.
    assert not spool.print(make_slip(number="A003")).ok
    assert [j.slip.number for j in spool.pending()] == ["A001", "A002", "A003"]

    emulator.accept_connections()
    restarted = PrintSpool(tmp_path, emulator.url, retries=0)  # e.g. the kiosk was restarted
    assert restarted.print(make_slip(number="A004")).ok
    assert restarted.pending() == []
    jobs = emulator.wait_for_jobs(4)
    assert jobs == [slip_bytes(make_slip(number=n)) for n in ("A001", "A002", "A003", "A004")]


def test_a_round_stops_at_the_first_failure(tmp_path: Path, emulator: PrinterEmulator) -> None:
    spool = PrintSpool(tmp_path, emulator.url, retries=0)
    spool.add(make_slip(number="A001"))
    spool.add(make_slip(number="A002"))
    emulator.cover_open = True
    results = spool.run_once()
    assert [r.printer_state for r in results] == ["cover_open"]  # A002 not even tried
    assert [j.attempts for j in spool.pending()] == [1, 0]
    assert spool.pending()[0].last_message.startswith("Not printed: the printer cover is open")
