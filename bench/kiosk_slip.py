"""Benchmark 6: kiosk tap → slip bytes at the printer. The kiosk's own client (wins_kiosk.client) issues the
ticket over HTTP to a real server and its printer path (wins_kiosk.printer.SpoolPrinter → escpos over TCP)
prints it on the test printer emulator (tests/support/printer_emulator.py) on loopback. Timed from the tap
to the moment the emulator holds the whole job.

    .venv/bin/python bench/kiosk_slip.py [--taps 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Server, database, machine, pct, seed, table  # noqa: E402

sys.path.insert(0, str(ROOT))

from tests.support.printer_emulator import PrinterEmulator  # noqa: E402

from wins_kiosk.client import KioskClient  # noqa: E402
from wins_kiosk.printer import SpoolPrinter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--taps", type=int, default=100)
    args = parser.parse_args()
    with database("sqlite") as url:
        data = seed(url, counters=2)
        with Server(url, cpus="0", log_level="WARNING") as server, PrinterEmulator() as printer:
            printer_spool = SpoolPrinter(printer.url, Path(tempfile.mkdtemp(prefix="wins-spool-"))).start()
            with KioskClient(server.base, data.kiosk_token) as client:
                branch = client.branch()
                times = []
                for i in range(args.taps + 5):
                    before = len(printer.jobs)
                    t0 = time.perf_counter()
                    ticket = client.issue_ticket(data.services["A"], language="en", idempotency_key=uuid.uuid4().hex)
                    outcome = printer_spool.print_ticket(ticket, branch=branch, language="en")
                    printer.wait_for_jobs(before + 1)
                    if i >= 5:
                        times.append((time.perf_counter() - t0) * 1000)
                    assert outcome is not None
            printer_spool.stop()
    print(f"# kiosk tap -> slip bytes at the printer emulator — {machine()}\n")
    rows = [[args.taps, f"{pct(times, 50):.0f}", f"{pct(times, 95):.0f}", f"{pct(times, 99):.0f}", f"{max(times):.0f}"]]
    print(table(["taps", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows))


if __name__ == "__main__":
    main()
