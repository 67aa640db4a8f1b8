"""deploy/fail2ban/: the filter finds the client of each failed sign-in in real WINS log lines, in both formats,
and a crafted user name cannot make it ban someone else."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.requirements import require
from tests.support.seed import PASSWORD, seed
from wins.app import create_app
from wins.config import Settings

FILTER = Path(__file__).resolve().parents[2] / "deploy" / "fail2ban" / "filter.d" / "wins.conf"
HOSTILE = 'x" sign-in failed from 198.51.100.66 for user "y\nWARNING wins.security: sign-in failed from 198.51.100.77'


def _failed_sign_ins(sqlite_url: str, tmp_path: Path, log_format: str, capsys: pytest.CaptureFixture[str]) -> str:
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path, secret_key="f" * 40, log_format=log_format)
    seed(settings)
    try:
        with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as client:
            for username, via in (("staff", "203.0.113.5"), ("nobody", "203.0.113.5"), (HOSTILE, "192.0.2.44")):
                r = client.post(
                    "/api/v1/auth/token",
                    data={"username": username, "password": "not-" + PASSWORD},
                    headers={"X-Forwarded-For": via},
                )
                assert r.status_code == 401
            # A right password is no failure.
            r = client.post("/api/v1/auth/token", data={"username": "staff", "password": PASSWORD})
            assert r.status_code == 200
        return capsys.readouterr().err
    finally:
        logging.getLogger().setLevel(logging.WARNING)


def _banned_by_python(log: str) -> list[str]:
    """The filter's expressions, with fail2ban's <ADDR> and date cut-out done by hand."""
    text = FILTER.read_text()
    expressions = re.search(r"failregex = (.*?)\nignoreregex", text, re.S)
    assert expressions
    found = []
    for raw in expressions.group(1).splitlines():
        pattern = re.compile(raw.strip().replace("<ADDR>", r"(?P<addr>[0-9a-fA-F.:]+)"))
        for line in log.splitlines():
            line = re.sub(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}|(?<=^\{"ts": ")[^"]*', "", line)
            if match := pattern.search(line):
                found.append(match.group("addr"))
    return found


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_filter_matches_real_failed_sign_ins(
    sqlite_url: str, tmp_path: Path, log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _failed_sign_ins(sqlite_url, tmp_path, log_format, capsys)
    assert "sign-in failed from 203.0.113.5" in log
    assert sorted(_banned_by_python(log)) == ["192.0.2.44", "203.0.113.5", "203.0.113.5"]

    fail2ban_regex = shutil.which("fail2ban-regex")
    require(fail2ban_regex is not None, "fail2ban-regex is not installed (scripts/system-deps installs it)")
    assert fail2ban_regex is not None
    logfile = tmp_path / "wins.log"
    logfile.write_text(log)
    done = subprocess.run(
        [fail2ban_regex, "--out", "ip", str(logfile), str(FILTER)], capture_output=True, text=True, check=True
    )
    assert sorted(done.stdout.split()) == ["192.0.2.44", "203.0.113.5", "203.0.113.5"]
