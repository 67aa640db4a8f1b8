"""Shared plumbing for the benchmarks: throwaway databases, seed data, a real server, statistics.

Everything runs on loopback. PostgreSQL databases are created as `bench_<random>` on WINS_BENCH_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/postgres) and dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from wins.config import Settings  # noqa: E402

POSTGRES_URL = os.environ.get("WINS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "b" * 40


# -- machine ---------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    return (
        f"{os.cpu_count()} CPUs ({cpu}), RAM {mem}, Python {platform.python_version()}, "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}"
    )


# -- databases -------------------------------------------------------------------------------------------


def _pg_url(name: str) -> str:
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{name}"


@contextlib.contextmanager
def database(kind: str, *, workdir: Path | None = None, keep: bool = False) -> Iterator[str]:
    """A fresh migrated database; yields its WINS_DATABASE_URL."""
    from wins.migrate import upgrade

    if kind == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="wins-bench-", dir=workdir))
        url = f"sqlite:///{tmp / 'wins.db'}"
        upgrade(url)
        try:
            yield url
        finally:
            if not keep:
                shutil.rmtree(tmp, ignore_errors=True)
        return
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _pg_url(name)
    try:
        upgrade(url.replace("postgresql://", "postgresql+psycopg://"))
        yield url
    finally:
        if not keep:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_for(url: str, data_dir: Path | None = None) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data_dir or Path(tempfile.mkdtemp(prefix="wins-bench-data-")),
        secret_key=SECRET,
        log_level="WARNING",
    )


@dataclass
class Seeded:
    services: dict[str, int] = field(default_factory=dict)
    counters: list[int] = field(default_factory=list)
    staff_tokens: list[str] = field(default_factory=list)  # one staff user per counter
    kiosk_token: str = ""
    display_tokens: list[str] = field(default_factory=list)
    admin_token: str = ""


def seed(url: str, *, counters: int = 4, displays: int = 1, services: str = "ABC") -> Seeded:
    """A branch, services, `counters` counters each serving every service, one staff user per counter,
    a kiosk, `displays` display devices and an admin."""
    from wins.branches.service import create_branch
    from wins.counters.service import create_counter
    from wins.db import Database
    from wins.devices.models import DeviceKind
    from wins.devices.service import create_device
    from wins.services.service import create_service
    from wins.staff.models import Role, StaffUser
    from wins.staff.security import hash_password
    from wins.staff.service import issue_token

    settings = settings_for(url)
    db = Database(settings)
    out = Seeded()
    password_hash = hash_password("bench-password")
    with db.session() as session:
        create_branch(session, name="Bench Branch", timezone="UTC")
        for prefix in services:
            out.services[prefix] = create_service(
                session, values={"name": f"Service {prefix}", "prefix": prefix}, actor=None
            ).id
        ids = list(out.services.values())
        for i in range(counters):
            out.counters.append(create_counter(session, name=f"C{i + 1}", service_ids=ids, actor=None).id)
        for i in range(counters):
            user = StaffUser(username=f"staff{i}", password_hash=password_hash, role=Role.staff)
            session.add(user)
            session.flush()
            out.staff_tokens.append(issue_token(user, secret_key=SECRET))
        admin = StaffUser(username="admin", password_hash=password_hash, role=Role.admin)
        session.add(admin)
        session.flush()
        out.admin_token = issue_token(admin, secret_key=SECRET)
        _, out.kiosk_token = create_device(session, name="kiosk", kind=DeviceKind.kiosk, actor=None)
        for i in range(displays):
            _, token = create_device(session, name=f"display{i}", kind=DeviceKind.display, actor=None)
            out.display_tokens.append(token)
    db.dispose()
    return out


@dataclass
class ChainBranch:
    """One branch of a chain as the benchmarks use it: a service, counters with a staff member each, a display."""

    service_id: int
    counters: list[int]
    staff_tokens: list[str]  # one per counter, in that branch only
    display_token: str


def seed_chain(url: str, data: Seeded, *, branches: int, counters: int) -> list[ChainBranch]:
    """The branch `seed` made (service A, its first `counters` counters and their staff, its first display) and
    `branches` - 1 more, each with one service, `counters` counters with a staff member each, and a display."""
    from wins.branches.service import create_branch
    from wins.counters.service import create_counter
    from wins.db import Database
    from wins.devices.models import DeviceKind
    from wins.devices.service import create_device
    from wins.services.service import create_service
    from wins.staff.membership import set_branch_roles
    from wins.staff.models import Role, StaffUser
    from wins.staff.security import hash_password
    from wins.staff.service import issue_token

    chain = [
        ChainBranch(data.services["A"], data.counters[:counters], data.staff_tokens[:counters], data.display_tokens[0])
    ]
    db = Database(settings_for(url))
    password_hash = hash_password("bench-password")
    with db.session() as session:
        for n in range(2, branches + 1):
            branch_id = create_branch(session, name=f"Branch {n:03d}", timezone="UTC").id
            values = {"name": "Service A", "prefix": "A"}
            service_id = create_service(session, values=values, branch_id=branch_id, actor=None).id
            out = ChainBranch(service_id, [], [], "")
            for i in range(counters):
                counter = create_counter(
                    session, name=f"C{i + 1}", service_ids=[service_id], branch_id=branch_id, actor=None
                )
                out.counters.append(counter.id)
                user = StaffUser(username=f"staff{n}-{i}", password_hash=password_hash, role=Role.staff)
                session.add(user)
                session.flush()
                set_branch_roles(session, user.id, roles={branch_id: Role.staff}, actor=None)
                out.staff_tokens.append(issue_token(user, secret_key=SECRET))
            _, out.display_token = create_device(
                session, name=f"display {n}", kind=DeviceKind.display, branch_id=branch_id, actor=None
            )
            chain.append(out)
    db.dispose()
    return chain


# -- server ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def taskset(cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []


class Server:
    """`uvicorn wins.asgi:app` (uvloop + httptools) in a subprocess, optionally pinned to CPUs (`app`: another
    ASGI app, bench/worker_count.py's baseline)."""

    def __init__(
        self,
        url: str,
        *,
        workers: int = 1,
        cpus: str | None = None,
        log_level: str = "INFO",
        extra_env: dict[str, str] | None = None,
        app: str = "wins.asgi:app",
    ) -> None:
        self.app = app
        self.db_url = url
        self.workers = workers
        self.cpus = cpus
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="wins-bench-srv-"))
        self.log_path = self.data_dir / "server.log"
        self.env = {
            **os.environ,
            "WINS_DATABASE_URL": url,
            "WINS_SECRET_KEY": SECRET,
            "WINS_DATA_DIR": str(self.data_dir),
            "WINS_LOG_LEVEL": log_level,
            "WINS_DEMO_ON_FIRST_START": "false",
            # The benchmarks stand thousands of screens on one display token: lift the per-process socket caps.
            "WINS_WS_MAX_PER_PRINCIPAL": "100000",
            "WINS_WS_MAX_TOTAL": "100000",
            "PYTHONPATH": str(ROOT / "src"),
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        cmd = [
            *taskset(self.cpus),
            sys.executable,
            "-m",
            "uvicorn",
            self.app,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            "--backlog",
            "8192",
        ]
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited; see {self.log_path}:\n{self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/health", timeout=1).status_code == 200:
                    time.sleep(0.5 if self.workers > 1 else 0)  # let every worker come up
                    return self
            time.sleep(0.1)
        raise RuntimeError("server did not come up")

    def pids(self) -> list[int]:
        """The server process and its workers."""
        assert self.proc is not None
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
        return [self.proc.pid, *map(int, out)]

    def rss_kib(self) -> int:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the server and its workers (from /proc/<pid>/stat)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- statistics ------------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    return "\n".join([line, sep, *body])
