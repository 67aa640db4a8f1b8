"""The systemd units pass `systemd-analyze verify` without a single warning and score well on security."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from tests.deploy.conftest import DEPLOY

UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
ANALYZE = "/usr/bin/systemd-analyze"


def relocated(unit: Path, tmp: Path) -> Path:
    """A copy whose programs exist (verify checks that every Exec* binary is there)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    text = unit.read_text()
    for program in set(re.findall(r"/opt/wins/venv/bin/([\w-]+)", text)):
        stub = bin_dir / program
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
    copy = tmp / unit.name
    copy.write_text(text.replace("/opt/wins/venv/bin/", f"{bin_dir}/"))
    return copy


def test_both_units_are_shipped() -> None:
    assert [u.name for u in UNITS] == ["wins-kiosk.service", "wins-uwsgi.service", "wins.service"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_verify_prints_nothing(unit: Path, tmp_path: Path) -> None:
    result = subprocess.run([ANALYZE, "verify", str(relocated(unit, tmp_path))], capture_output=True, text=True)
    # verify exits 0 on unknown keys and many mistakes: any output at all is a failure.
    assert result.stderr == ""
    assert result.stdout == ""
    assert result.returncode == 0


def exposure(unit: Path) -> float:
    result = subprocess.run([ANALYZE, "security", "--offline=true", str(unit)], capture_output=True, text=True)
    match = re.search(r"Overall exposure level for [\w.-]+: ([\d.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


def test_server_unit_is_well_sandboxed(tmp_path: Path) -> None:
    text = (DEPLOY / "systemd" / "wins.service").read_text()
    for setting in (
        "Type=notify",
        "KillMode=mixed",
        "Restart=on-failure",
        "User=wins",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ExecStartPre=/opt/wins/venv/bin/wins db upgrade",
    ):
        assert setting in text
    assert exposure(relocated(DEPLOY / "systemd" / "wins.service", tmp_path)) <= 1.5  # docs/deployment.md: 1.3


def test_uwsgi_unit_runs_the_shipped_ini_in_the_same_sandbox(tmp_path: Path) -> None:
    text = (DEPLOY / "systemd" / "wins-uwsgi.service").read_text()
    for setting in (
        "Type=notify",
        "Conflicts=wins.service",
        "User=wins",
        "ProtectSystem=strict",
        "ExecStartPre=/opt/wins/venv/bin/wins db upgrade",
        "ExecStart=/opt/wins/venv/bin/uwsgi --ini /opt/wins/uwsgi.ini",
        "Environment=WINS_UWSGI_BIND=127.0.0.1:8000",
    ):
        assert setting in text
    assert exposure(relocated(DEPLOY / "systemd" / "wins-uwsgi.service", tmp_path)) <= 1.5


def test_kiosk_unit_restarts_and_follows_the_graphical_session(tmp_path: Path) -> None:
    text = (DEPLOY / "systemd" / "wins-kiosk.service").read_text()
    assert "Restart=always" in text
    assert "WantedBy=graphical-session.target" in text
    assert "ExecStart=/opt/wins/venv/bin/wins-kiosk --config /etc/wins/kiosk.toml" in text
    assert exposure(relocated(DEPLOY / "systemd" / "wins-kiosk.service", tmp_path)) < 9
