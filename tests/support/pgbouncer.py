"""A real PgBouncer (Debian's, from scripts/system-deps) in transaction pooling mode in front of the test
PostgreSQL: what a chain puts between many workers and one database (docs/deployment.md)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests.support.databases import POSTGRES_URL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def pgbouncer(*, pool_size: int = 2) -> Iterator[int]:
    """Run PgBouncer in transaction mode on a free port with `pool_size` server connections per database (few, so
    clients really share them); yields the port. Any database name is passed through to the test server."""
    target = make_url(POSTGRES_URL)
    port = _free_port()
    folder = Path(tempfile.mkdtemp(prefix="wins-pgbouncer-"))
    folder.chmod(0o755)  # read by the postgres user when we are root (PgBouncer refuses to run as root)
    (folder / "users.txt").write_text(f'"{target.username}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={target.host or '127.0.0.1'} port={target.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'users.txt'}\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 500\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
    )
    for name in ("users.txt", "pgbouncer.ini"):
        (folder / name).chmod(0o644)
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    command = [binary, *(["-u", "postgres"] if os.geteuid() == 0 else []), str(folder / "pgbouncer.ini")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                psycopg.connect(f"postgresql://{target.username}@127.0.0.1:{port}/postgres", connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    raise RuntimeError(f"PgBouncer did not start: {output}") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def through(url: str, port: int) -> str:
    """`url` (a test database on the PostgreSQL server) reached through the PgBouncer on `port`."""
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
