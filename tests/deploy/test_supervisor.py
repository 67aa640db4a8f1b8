"""supervisord with the shipped program configs (paths moved into a temporary folder): the service comes
back after its gunicorn master is killed with SIGKILL, and no orphaned worker keeps the port."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.deploy.conftest import (
    BIN,
    DEPLOY,
    SECRET,
    children,
    free_port,
    listeners_on,
    pid_alive,
    prepare_database,
    stop,
    wait_for_health,
)

pytestmark = pytest.mark.slow
SUPERVISORD = shutil.which("supervisord") or "/usr/bin/supervisord"
SUPERVISORCTL = shutil.which("supervisorctl") or "/usr/bin/supervisorctl"


def relocate(text: str, tmp: Path) -> str:
    """The shipped config with every host path moved under `tmp` (and no user switch: tests are one user)."""
    text = text.replace("/opt/wins/venv/bin/", f"{BIN}/")
    text = text.replace("/opt/wins/gunicorn.conf.py", str(DEPLOY / "gunicorn.conf.py"))
    text = text.replace("/etc/wins/", f"{tmp}/etc/")
    text = text.replace("/var/lib/wins", str(tmp / "data"))
    text = text.replace("/var/log/supervisor/", f"{tmp}/log/")
    text = text.replace("/home/kiosk", str(tmp))
    return re.sub(r"^user=.*\n", "", text, flags=re.M)


@dataclass
class Supervised:
    conf: Path
    url: str
    port: int

    def ctl(self, *args: str) -> str:
        return subprocess.run(
            [SUPERVISORCTL, "-c", str(self.conf), *args], capture_output=True, text=True, timeout=30
        ).stdout

    def master_pid(self) -> int:
        out = self.ctl("pid", "wins").strip()
        return int(out) if out.isdigit() else 0


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervised]:
    tmp_path = tmp_path_factory.mktemp("supervisor")
    port = free_port()
    (tmp_path / "etc").mkdir()
    (tmp_path / "log").mkdir()
    (tmp_path / "conf.d").mkdir()
    database_url = f"sqlite:///{tmp_path / 'data' / 'wins.db'}"
    prepare_database(database_url, tmp_path / "data")
    (tmp_path / "etc" / "wins.env").write_text(
        f"WINS_ENV=production\nWINS_SECRET_KEY={SECRET}\nWINS_DATA_DIR={tmp_path / 'data'}\n"
        f"WINS_HOST=127.0.0.1\nWINS_PORT={port}\nWINS_WORKERS=2\nWINS_LOG_LEVEL=INFO\n"
        "WINS_EVENT_POLL_SECONDS=1\n"
    )
    (tmp_path / "conf.d" / "wins.conf").write_text(
        relocate((DEPLOY / "supervisor" / "wins.conf").read_text(), tmp_path)
    )
    kiosk = relocate((DEPLOY / "supervisor" / "wins-kiosk.conf").read_text(), tmp_path)
    (tmp_path / "conf.d" / "wins-kiosk.conf").write_text(kiosk.replace("autostart=true", "autostart=false"))
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"[unix_http_server]\nfile={tmp_path}/supervisor.sock\n\n"
        f"[supervisord]\nlogfile={tmp_path}/log/supervisord.log\npidfile={tmp_path}/supervisord.pid\n"
        f"childlogdir={tmp_path}/log\nnodaemon=true\n\n"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
        f"[supervisorctl]\nserverurl=unix://{tmp_path}/supervisor.sock\n\n"
        f"[include]\nfiles = {tmp_path}/conf.d/*.conf\n"
    )
    proc = subprocess.Popen([SUPERVISORD, "-c", str(conf), "-n"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    supervised = Supervised(conf, f"http://127.0.0.1:{port}", port)
    try:
        wait_for_health(supervised.url, proc, timeout=60, log=tmp_path / "log" / "wins.log")
        yield supervised
    finally:
        supervised.ctl("stop", "all")
        stop(proc, timeout=40)
        assert not listeners_on(port), "something still listens after supervisord stopped"


def test_shipped_programs_are_known(supervised: Supervised) -> None:
    deadline = time.monotonic() + 15  # RUNNING once it has stayed up for startsecs
    while not re.search(r"^wins\s+RUNNING", status := supervised.ctl("status"), re.M):
        assert time.monotonic() < deadline, status
        time.sleep(0.3)
    assert re.search(r"^wins-kiosk\s+STOPPED", status, re.M), status


def test_survives_sigkill_of_the_gunicorn_master(supervised: Supervised) -> None:
    master = supervised.master_pid()
    workers = children(master)
    assert master and len(workers) == 2
    assert listeners_on(supervised.port) == {master, *workers}

    killed_at = time.monotonic()
    os.kill(master, signal.SIGKILL)

    deadline = killed_at + 30
    new_master = 0
    while time.monotonic() < deadline:
        new_master = supervised.master_pid()
        if new_master and new_master != master:
            try:
                if (
                    httpx.get(supervised.url + "/health", timeout=2).status_code == 200
                    and len(children(new_master)) == 2
                ):
                    break
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    else:
        raise AssertionError(f"no healthy new master within 30 s:\n{supervised.ctl('tail', 'wins')}")
    recovered = time.monotonic() - killed_at
    # The orphans got SIGTERM from the kernel (PR_SET_PDEATHSIG) and left; only the new master's family listens.
    assert not [pid for pid in workers if pid_alive(pid)], "orphaned workers survived their master"
    assert listeners_on(supervised.port) <= {new_master, *children(new_master)}
    print(f"recovered in {recovered:.1f}s")
    assert recovered < 20, f"took {recovered:.1f}s"
    assert "address already in use" not in supervised.ctl("tail", "-20000", "wins").lower()
