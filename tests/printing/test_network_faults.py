"""print_slip against the TCP printer emulator: bytes arrive whole; every fault gives an honest result."""

from __future__ import annotations

import time

from tests.printing.conftest import make_slip
from tests.support.printer_emulator import PrinterEmulator
from wins.printing import Slip, print_slip, slip_bytes

DLE_EOT_1 = b"\x10\x04\x01"


def test_the_bytes_arrive_whole(emulator: PrinterEmulator, slip: Slip) -> None:
    result = print_slip(emulator.url, slip)
    assert result.ok and result.printer_state == "online" and result.attempts == 1
    assert result.message == "Printed."
    assert emulator.wait_for_jobs(1) == [slip_bytes(slip)]
    assert emulator.queries.count(DLE_EOT_1) == 2  # status read before and after the job


def test_a_big_non_latin_job_arrives_whole(emulator: PrinterEmulator) -> None:
    slip = make_slip(language="ar", branch_name="الفرع الرئيسي", footer="شكرا لصبركم\n" * 6)
    job = slip_bytes(slip)
    assert len(job) > 20000
    assert print_slip(emulator.url, slip).ok
    assert emulator.wait_for_jobs(1) == [job]


def test_paper_out_is_reported_and_nothing_is_sent(emulator: PrinterEmulator, slip: Slip) -> None:
    emulator.paper = "out"
    result = print_slip(emulator.url, slip)
    assert not result.ok and result.printer_state == "paper_out" and result.attempts == 1
    assert "out of paper" in result.message and "Not printed" in result.message
    emulator.wait_idle()
    assert emulator.jobs == [] and all(not c.data for c in emulator.connections)


def test_cover_open(emulator: PrinterEmulator, slip: Slip) -> None:
    emulator.cover_open = True
    result = print_slip(emulator.url, slip)
    assert not result.ok and result.printer_state == "cover_open" and "cover is open" in result.message


def test_offline_for_another_reason(emulator: PrinterEmulator, slip: Slip) -> None:
    emulator.online = False
    result = print_slip(emulator.url, slip)
    assert not result.ok and result.printer_state == "offline"


def test_paper_low_still_prints_and_says_so(emulator: PrinterEmulator, slip: Slip) -> None:
    emulator.paper = "low"
    result = print_slip(emulator.url, slip)
    assert result.ok and result.paper_low and "running low" in result.message
    assert emulator.wait_for_jobs(1) == [slip_bytes(slip)]


def test_connection_refused_is_retried_then_reported(emulator: PrinterEmulator, slip: Slip) -> None:
    emulator.refuse_connections()
    started = time.monotonic()
    result = print_slip(emulator.url, slip, retries=2, retry_delay=0.05)
    assert time.monotonic() - started < 3
    assert not result.ok and result.printer_state == "offline" and result.attempts == 3
    assert "connection refused" in result.message and "tried 3 times" in result.message
    assert "Printed" not in result.message


def test_a_drop_mid_job_is_detected_and_retried(emulator: PrinterEmulator, slip: Slip) -> None:
    job = slip_bytes(slip)
    emulator.drop_mid_job(after=len(job) // 2)
    result = print_slip(emulator.url, slip, retry_delay=0.05)
    assert result.ok and result.attempts == 2
    emulator.wait_idle()
    assert len(emulator.dropped_jobs) == 1 and len(emulator.dropped_jobs[0]) < len(job)
    assert emulator.jobs == [job]  # the retry arrived whole


def test_a_printer_that_keeps_dropping_is_never_reported_as_printed(emulator: PrinterEmulator, slip: Slip) -> None:
    emulator.drop_mid_job(after=200, times=10)
    result = print_slip(emulator.url, slip, retries=2, retry_delay=0.05)
    assert not result.ok and result.printer_state == "offline" and result.attempts == 3
    assert "connection dropped" in result.message
    emulator.wait_idle()
    assert emulator.jobs == [] and len(emulator.dropped_jobs) == 3


def test_printer_without_status_support(emulator: PrinterEmulator, slip: Slip) -> None:
    emulator.answer_status = False
    started = time.monotonic()
    result = print_slip(emulator.url, slip, timeout=0.5)
    assert time.monotonic() - started < 2
    assert result.ok and result.printer_state == "unknown" and "does not report" in result.message
    assert emulator.wait_for_jobs(1) == [slip_bytes(slip)]


def test_recovers_when_the_printer_comes_back(emulator: PrinterEmulator, slip: Slip) -> None:
    emulator.refuse_connections()
    assert not print_slip(emulator.url, slip, retries=0).ok
    emulator.accept_connections()
    assert print_slip(emulator.url, slip, retries=0).ok
    assert emulator.wait_for_jobs(1) == [slip_bytes(slip)]
