"""Behind nginx, sign-ins are throttled by the client's address, not nginx's: under uWSGI (a2wsgi) too, where
every request arrives from 127.0.0.1. Otherwise one attacker would lock everybody out."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.deploy.conftest import BIN, DEPLOY, free_port, prepare_database, server_env, stop, wait_for_health
from tests.support.seed import PASSWORD

pytestmark = pytest.mark.slow


def test_uwsgi_throttles_the_forwarded_client_address(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'wins.db'}"
    prepare_database(database_url, tmp_path / "data")
    port = free_port()
    log = tmp_path / "uwsgi.log"
    proc = subprocess.Popen(
        [str(BIN / "uwsgi"), "--ini", str(DEPLOY / "uwsgi.ini")],
        env=server_env(
            database_url,
            tmp_path / "data",
            WINS_UWSGI_BIND=f"127.0.0.1:{port}",
            WINS_WORKERS="1",
            WINS_LOGIN_CLIENT_MAX_FAILURES="3",
        ),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}/api/v1/auth/token"
    try:
        wait_for_health(f"http://127.0.0.1:{port}", proc, timeout=60, log=log)

        def sign_in(address: str, username: str, password: str) -> int:
            headers = {"X-Forwarded-For": address}
            data = {"username": username, "password": password}
            return httpx.post(url, data=data, headers=headers, timeout=10).status_code

        assert [sign_in("203.0.113.9", f"guess{i}", "wrong-password") for i in range(3)] == [401, 401, 401]
        assert sign_in("203.0.113.9", "staff", PASSWORD) == 429
        assert sign_in("198.51.100.9", "staff", PASSWORD) == 200
    finally:
        stop(proc, timeout=30)
