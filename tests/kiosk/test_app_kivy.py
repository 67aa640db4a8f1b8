"""The Kivy app itself, headless (Kivy's bundled SDL2 renders offscreen through EGL/Mesa when there is no
display), touched by Kivy's UnitTestTouch: the ticket must exist on the live server and its bytes must reach
the printer emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kiosk.conftest import Server
from tests.support.printer_emulator import PrinterEmulator

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def backend() -> str:
    return "sqlite"


def kivy_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "KIVY_GL_BACKEND")}
    env.update(
        KIVY_HOME=str(tmp_path / "kivy-home"),  # nothing in the home folder
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        KIVY_NO_ARGS="1",
        KIVY_LOG_MODE="PYTHON",
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "src")]),  # this tree, not an installed copy
    )
    return env


@pytest.mark.kivy
@pytest.mark.slow
def test_kivy_app_touch_issues_and_prints(server: Server, printer: PrinterEmulator, tmp_path: Path) -> None:
    env = kivy_env(tmp_path)
    env.update(
        KIOSK_TEST_SERVER=server.live.url,
        KIOSK_TEST_TOKEN=server.seeded.tokens["kiosk"],
        KIOSK_TEST_PRINTER=printer.url,
        KIOSK_TEST_TMP=str(tmp_path),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::DeprecationWarning:wins_kiosk",
            "-m",
            "unittest",
            "-v",
            "tests.kiosk.kivy_cases",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    assert "Ran 2 tests" in proc.stderr and "OK" in proc.stderr
    assert sorted(server.waiting_numbers()) == ["A001", "B001"]
    jobs = printer.wait_for_jobs(2)
    assert any(b"A001" in job for job in jobs) and any(b"B001" in job for job in jobs)
    (alert,) = server.get("/api/v1/devices/help", "staff")
    assert alert["name"] == "kiosk"  # the keys-only customer's call for help reached the server
    assert (tmp_path / "kivy-home" / "config.ini").is_file()  # Kivy wrote its files where we told it
