"""Backups of the WINS database: SQLite through the online backup API, PostgreSQL through pg_dump.

Both are safe while the server runs. A SQLite backup is itself a plain SQLite file; a PostgreSQL backup is
pg_dump's custom format (compressed; restored with pg_restore). Restores go back to the same kind of
database and finish with `upgrade()`, so a backup taken by an older WINS comes back at the current schema.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from wins.config import Settings
from wins.errors import WinsError
from wins.migrate import upgrade
from wins.ops.presence import exclusive_use

logger = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupError(WinsError):
    code = "backup_failed"


def _sqlite_path(settings: Settings) -> Path:
    return Path(make_url(settings.sqlalchemy_url).database or "")


def _pg_command(tool: str, url: URL) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for a libpq tool; the password goes through the environment, never argv."""
    exe = shutil.which(tool)
    if exe is None:
        raise BackupError(f"{tool} is not installed (Debian: apt install postgresql-client).")
    args = [exe, "--no-password"]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed ({result.returncode}): {result.stderr.strip()}")


def backup(settings: Settings, destination: Path) -> Path:
    """Write a consistent copy of the database to `destination` (written aside, then renamed into place)."""
    destination = destination.resolve()
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if settings.is_sqlite:
            source = _sqlite_path(settings)
            if not source.is_file():
                raise BackupError(f"There is no database file at {source}.")
            with (
                closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
                closing(sqlite3.connect(partial)) as dst,
            ):
                src.backup(dst)  # page by page, consistent even while the server writes
        else:
            url = make_url(settings.sqlalchemy_url)
            args, env = _pg_command("pg_dump", url)
            _run(
                [
                    *args,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    "--file",
                    str(partial),
                    "--dbname",
                    str(url.database),
                ],
                env,
            )
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    destination.chmod(0o600)  # holds password hashes and device token hashes
    logger.info("backup written to %s", destination)
    return destination


def restore(settings: Settings, source: Path) -> None:
    """Replace the database's content with the backup in `source`, then bring the schema up to date.
    Refused (ServerRunning) while a server runs on the database: its workers would keep serving from memory
    of the old content and screens would stop updating."""
    with exclusive_use(settings):
        _restore(settings, source)


def _restore(settings: Settings, source: Path) -> None:
    if not source.is_file():
        raise BackupError(f"There is no backup file at {source}.")
    with open(source, "rb") as fh:
        head = fh.read(16)
    if settings.is_sqlite:
        if head != SQLITE_MAGIC:
            raise BackupError(f"{source} is not a SQLite backup; this server uses SQLite.")
        _restore_sqlite(_sqlite_path(settings), source)
    else:
        if not head.startswith(PG_DUMP_MAGIC):
            raise BackupError(f"{source} is not a pg_dump backup; this server uses PostgreSQL.")
        url = make_url(settings.sqlalchemy_url)
        args, env = _pg_command("pg_restore", url)
        _run(
            [
                *args,
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                "--dbname",
                str(url.database),
                str(source),
            ],
            env,
        )
    upgrade(settings.sqlalchemy_url)
    logger.info("database restored from %s", source)


def _restore_sqlite(target: Path, source: Path) -> None:
    # Check the backup before touching anything: a truncated copy must not replace a good database.
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "check.db"
        shutil.copyfile(source, copy)
        try:
            with closing(sqlite3.connect(copy)) as conn:
                verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            verdict = str(exc)
        if verdict != "ok":
            raise BackupError(f"{source} is damaged: {verdict}")
        target.parent.mkdir(parents=True, exist_ok=True)
        # The backup API writes into the live file under SQLite's own locks (WAL and all), unlike a file copy.
        with closing(sqlite3.connect(copy)) as src, closing(sqlite3.connect(target, timeout=30)) as dst:
            src.backup(dst)
