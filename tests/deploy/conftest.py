"""Real server processes for deployment tests: gunicorn, uWSGI and supervisord started from the shipped configs."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from tests.support.databases import POSTGRES_URL
from tests.support.seed import PASSWORD, Seeded, seed
from tests.support.server import free_port

from wins.config import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent
SECRET = "deploy-test-secret-" + "x" * 30


def wait_for_health(url: str, proc: subprocess.Popen[bytes] | None, *, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-4000:] if log else ''}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer /health within {timeout}s:\n{log.read_text()[-4000:] if log else ''}")


def stop(proc: subprocess.Popen[bytes], *, timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WINS_", "NOTIFY_SOCKET", "XDG_RUNTIME_DIR"))}
    env.update(
        {
            "PATH": f"{BIN}:{env.get('PATH', '')}",
            "WINS_ENV": "production",
            "WINS_SECRET_KEY": SECRET,
            "WINS_DATABASE_URL": database_url,
            "WINS_DATA_DIR": str(data_dir),
            "WINS_EVENT_POLL_SECONDS": "1",
            "WINS_LOG_LEVEL": "WARNING",
            "WINS_DEMO_ON_FIRST_START": "false",
        }
    )
    env.update(extra)
    return env


def prepare_database(database_url: str, data_dir: Path) -> Seeded:
    """`wins db upgrade` through the real command, then users, services, counters and devices."""
    subprocess.run(
        [str(BIN / "wins"), "db", "upgrade"], env=server_env(database_url, data_dir), check=True, capture_output=True
    )
    return seed(Settings(database_url=database_url, data_dir=data_dir, secret_key=SECRET))


@contextmanager
def empty_pg_database() -> Iterator[str]:
    """An empty PostgreSQL database (no schema), dropped afterwards."""
    name = f"wins_deploy_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    with empty_pg_database() as url:
        yield url


class NotifySocket:
    """A stand-in for systemd's notification socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))

    def receive(self, timeout: float) -> str:
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode()

    def close(self) -> None:
        self.sock.close()


def newman(base_url: str, *, username: str = "admin", password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    npx = shutil.which("npx")
    assert npx, "node/npm are needed (scripts/system-deps installs them)"
    if not (REPO / "node_modules" / ".bin" / "newman").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=REPO, check=True, capture_output=True)
    return subprocess.run(
        [
            npx,
            "--no-install",
            "newman",
            "run",
            "postman/wins.postman_collection.json",
            "-e",
            "postman/wins.postman_environment.json",
            "--env-var",
            f"baseUrl={base_url}",
            "--env-var",
            f"username={username}",
            "--env-var",
            f"password={password}",
            "--reporters",
            "cli",
            "--color",
            "off",
            "--timeout-request",
            "30000",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def no_pip_config_env() -> dict[str, str]:
    """This environment without any pip configuration (no index, find-links or constraints from the host):
    what pip sees on a fresh site."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "DESTDIR", "WINS_", "PYTHONPATH"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


@pytest.fixture(scope="session")
def offline_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scripts/build-bundle run once per session: dist/wins-<version>-bundle.tar.gz, unpacked; its folder."""
    out = tmp_path_factory.mktemp("bundle")
    result = subprocess.run(
        [str(REPO / "scripts" / "build-bundle"), "--out", str(out)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (tarball,) = out.glob("wins-*-bundle.tar.gz")
    subprocess.run(["tar", "-C", str(out), "-xzf", str(tarball)], check=True)
    return out / tarball.name.removesuffix("-bundle.tar.gz")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def listeners_on(port: int) -> set[int]:
    """PIDs holding a listening TCP socket on `port` (from /proc, no extra tools)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(fields[9])
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    pids.add(int(proc.name))
                    break
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return pids


__all__ = ["free_port"]
