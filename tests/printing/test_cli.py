"""`wins print-test` against the printer emulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tests.support.printer_emulator import PrinterEmulator
from wins.cli import main


def test_print_test_prints_a_sample_slip(emulator: PrinterEmulator, tmp_path: Path) -> None:
    preview = tmp_path / "sample.png"
    result = CliRunner().invoke(main, ["print-test", "--printer", emulator.url, "--save-preview", str(preview)])
    assert result.exit_code == 0, result.output
    assert f"Printer {emulator.url}: online. Printed." in result.output
    job = emulator.wait_for_jobs(1)[0]
    assert b"A001\n" in job and b"Printer test" in job and job.endswith(b"\x1dV\x01")
    assert preview.read_bytes().startswith(b"\x89PNG")


def test_print_test_reports_faults_with_a_non_zero_exit(emulator: PrinterEmulator) -> None:
    emulator.paper = "out"
    result = CliRunner().invoke(main, ["print-test", "--printer", emulator.url])
    assert result.exit_code == 1
    assert "paper_out" in result.output and "out of paper" in result.output
    status = CliRunner().invoke(main, ["print-test", "--printer", emulator.url, "--status-only"])
    assert status.exit_code == 0 and "paper_out (the printer is out of paper)" in status.output


def test_print_test_rejects_a_bad_url() -> None:
    result = CliRunner().invoke(main, ["print-test", "--printer", "lp0"])
    assert result.exit_code == 1 and "is not a URL" in result.output


def test_print_test_as_a_real_command(emulator: PrinterEmulator) -> None:
    wins = Path(sys.executable).parent / "wins"
    done = subprocess.run(
        [str(wins), "print-test", "--printer", emulator.url, "--language", "fr"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "online" in done.stdout
    assert "Ticket de test".encode("cp858") in emulator.wait_for_jobs(1)[0]
