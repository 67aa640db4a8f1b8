"""`wins doctor`: is this installation fit to serve? One line per check, OK or FAIL, and what to do next.

Checks settings, the database (reachable, schema at the latest migration and matching the models), the event
stream (the log is readable; PostgreSQL's LISTEN/NOTIFY round trip; a running server's /health), the ticket
printers and the free space in the data folder. Nothing is changed, and no event is written.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from wins.config import Settings

MIN_FREE_BYTES = 500 * 1024**2


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    advice: str = ""
    # Fit to serve (it counts as OK), but not as well as it could: shown as NOTE, with its advice.
    note: bool = False

    def line(self) -> str:
        detail = " ".join(self.detail.split())  # one line, whatever a driver's message looked like
        text = f"{'FAIL' if not self.ok else 'NOTE' if self.note else 'OK  '} {self.check:<13} {detail}"
        shown = self.advice and (self.note or not self.ok)
        return f"{text}\n     {'':<13} → {self.advice}" if shown else text


def _settings_sanity(settings: Settings) -> Iterator[Finding]:
    problems = []
    if settings.is_sqlite and settings.workers > 1:
        problems.append(("WINS_WORKERS > 1 on SQLite", "keep WINS_WORKERS=1 with SQLite, or move to PostgreSQL"))
    if logging.getLevelName(settings.log_level.upper()) not in (10, 20, 30, 40, 50):
        problems.append((f"WINS_LOG_LEVEL={settings.log_level!r} is no level", "use DEBUG, INFO, WARNING or ERROR"))
    if settings.public_url and not settings.public_url.startswith(("http://", "https://")):
        problems.append(("WINS_PUBLIC_URL does not start with http(s)://", "e.g. WINS_PUBLIC_URL=http://queue.lan"))
    for problem, advice in problems:
        yield Finding("settings", False, problem, advice)
    if not problems:
        mode = "production" if settings.env == "production" else "development (WINS_ENV=production on a server)"
        yield Finding("settings", True, f"{mode}, data in {settings.data_dir.resolve()}")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, as taskset or systemd's CPUAffinity= set it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def too_many_workers(settings: Settings, workers: int | None = None) -> tuple[str, str] | None:
    """What is wrong and what to do when there are more server processes than CPUs on PostgreSQL, or None
    (fine, or SQLite, where _settings_sanity wants one). Each process adds its own event loop, event hub and
    background jobs and they take turns on the CPUs, so every request costs more CPU (docs/performance.md §7d:
    on 2 CPUs, 4 workers serve 12-19 % fewer tickets a second than 2). Said by `wins doctor`, `wins serve` and
    gunicorn at start."""
    workers = settings.workers if workers is None else workers
    cpus = usable_cpus()
    if settings.is_sqlite or workers <= cpus:
        return None
    return (
        f"{workers} server processes on {cpus} CPU(s): more processes than CPUs serve fewer requests a second, "
        "not more",
        f"set WINS_WORKERS={cpus} (one per CPU; add hosts, not processes, for more)",
    )


def _workers(settings: Settings) -> Finding | None:
    if settings.is_sqlite:
        return None  # _settings_sanity: one worker on SQLite
    crowded = too_many_workers(settings)
    if crowded is None:
        return Finding("workers", True, f"{settings.workers} server process(es) on {usable_cpus()} CPU(s)")
    detail, advice = crowded
    return Finding("workers", True, detail, advice, note=True)


def _database(engine: Engine) -> Finding:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            version = conn.dialect.server_version_info
    except Exception as exc:
        return Finding(
            "database",
            False,
            f"unreachable: {str(exc).splitlines()[0][:200]}",
            "check WINS_DATABASE_URL, that the database server runs, and the credentials",
        )
    shown = ".".join(str(part) for part in version or ())
    return Finding("database", True, f"reachable ({engine.dialect.name} {shown})".replace(" )", ")"))


def _schema(engine: Engine) -> Iterator[Finding]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from wins.migrate import alembic_config
    from wins.models import Base

    head = ScriptDirectory.from_config(alembic_config(engine.url.render_as_string(hide_password=False))).get_heads()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        current = context.get_current_heads()
        if set(current) != set(head):
            yield Finding(
                "migrations",
                False,
                f"database at {', '.join(current) or 'no schema'}, this WINS expects {', '.join(head)}",
                "stop the server, take a backup (`wins backup`), then run `wins db upgrade`",
            )
            return
        yield Finding("migrations", True, f"at the latest revision ({', '.join(head)})")
        diff = compare_metadata(context, Base.metadata)
    if diff:
        shown = "; ".join(_describe(item) for item in diff[:5]) + (" …" if len(diff) > 5 else "")
        yield Finding(
            "schema",
            False,
            f"{len(diff)} difference(s) from what WINS expects: {shown}",
            "the schema was changed outside WINS' migrations: restore the last good backup (`wins restore`) "
            "or undo the change by hand; do not serve from this database",
        )
    else:
        yield Finding("schema", True, "tables, columns and indexes match the models")


_DIFF_WORDS = {
    "add_table": "missing table",
    "remove_table": "unexpected table",
    "add_column": "missing column",
    "remove_column": "unexpected column",
    "add_index": "missing index",
    "remove_index": "unexpected index",
    "add_constraint": "missing constraint",
    "remove_constraint": "unexpected constraint",
    "add_fk": "missing foreign key",
    "remove_fk": "unexpected foreign key",
}


def _describe(item: object) -> str:
    """One of alembic's compare_metadata differences, in words ("missing column tickets.language")."""
    if isinstance(item, list) and item:
        item = item[0]
    if not isinstance(item, tuple) or not item:
        return str(item)
    op = str(item[0])
    if op in ("add_column", "remove_column"):
        return f"{_DIFF_WORDS[op]} {item[2]}.{item[3].name}"
    if op.startswith("modify_"):
        return f"changed {op.removeprefix('modify_')} of {item[2]}.{item[3]}"
    target = item[1]
    name = getattr(target, "name", target)
    table = getattr(getattr(target, "table", None), "name", None)
    return f"{_DIFF_WORDS.get(op, op)} {table + '.' if table and table != name else ''}{name}"


def _event_stream(settings: Settings, engine: Engine) -> Iterator[Finding]:
    from wins.events.service import NOTIFY_CHANNEL

    try:
        with engine.connect() as conn:
            last = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM events")).scalar_one()
    except Exception as exc:
        yield Finding("event log", False, f"unreadable: {exc}", "run `wins db upgrade`, then `wins doctor` again")
        return
    if engine.dialect.name == "postgresql":
        # The path every worker's hub listens on: NOTIFY on one connection must reach a LISTEN on another.
        import psycopg

        # As the server does: the LISTEN on the session URL (past a transaction-pooling PgBouncer), the NOTIFY
        # through the request pool's URL.
        pool_url = settings.sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://")
        try:
            with (
                psycopg.connect(settings.session_conninfo, autocommit=True, connect_timeout=5) as listener,
                psycopg.connect(pool_url, autocommit=True, connect_timeout=5) as sender,
            ):
                listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
                sender.execute(f"NOTIFY {NOTIFY_CHANNEL}, 'doctor'")
                heard = _await_notify(listener, timeout=5)
        except Exception as exc:
            heard = False
            yield Finding("event stream", False, f"LISTEN/NOTIFY failed: {exc}", "check the PostgreSQL connection")
            return
        if not heard:
            yield Finding(
                "event stream",
                False,
                f"a NOTIFY on {NOTIFY_CHANNEL} did not arrive within 5 s",
                "set WINS_DATABASE_LISTEN_URL to PostgreSQL itself, past PgBouncer (in transaction mode it drops "
                "LISTEN); see docs/deployment.md, 'PostgreSQL at scale'",
            )
            return
    yield Finding("event stream", True, f"event log readable (last event {last})" + _served_stream(settings))


def _await_notify(conn: object, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _ in conn.notifies(timeout=max(0.0, deadline - time.monotonic()), stop_after=1):  # type: ignore[attr-defined]
            return True
    return False


def _served_stream(settings: Settings) -> str:
    """What a server running with these settings says about its own event hub (skipped when none answers)."""
    import httpx

    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    try:
        body = httpx.get(f"http://{host}:{settings.port}/health", timeout=2).json()
    except Exception:
        return "; no server answering on " + f"{host}:{settings.port}"
    return f"; the server on {host}:{settings.port} reports its stream {body.get('event_stream', '?')}"


def _printers(settings: Settings, engine: Engine) -> Iterator[Finding]:
    from wins.printing.printers import PrinterUrlError, open_printer, parse_printer_url, read_status

    urls: dict[str, str] = {}
    if settings.printer_url:
        urls[settings.printer_url] = "WINS_PRINTER_URL"
    with engine.connect() as conn:
        for name, branch_settings in conn.execute(text("SELECT name, settings FROM branches")):
            data = branch_settings if isinstance(branch_settings, dict) else {}
            if isinstance(branch_settings, str):
                import json

                data = json.loads(branch_settings or "{}")
            if data.get("printer_url"):
                urls[str(data["printer_url"])] = f"branch {name}"
    if not urls:
        yield Finding("printer", True, "none configured on the server (kiosks print on their own printers)")
        return
    for url, source in urls.items():
        try:
            parse_printer_url(url)
            printer = open_printer(url, timeout=settings.printer_timeout)
            try:
                printer.open()
                status = read_status(printer, timeout=settings.printer_timeout)
            finally:
                printer.close()
        except (PrinterUrlError, OSError, Exception) as exc:  # python-escpos raises its own and OS errors
            yield Finding(
                "printer",
                False,
                f"{url} ({source}): {exc}",
                "check the printer is on and reachable, or fix the URL (docs/printing.md)",
            )
            continue
        if status.blocking:
            yield Finding("printer", False, f"{url} ({source}): {status.state}", "add paper / close the cover")
        else:
            yield Finding("printer", True, f"{url} ({source}): {status.state.lower()}")


def _disk(settings: Settings) -> Finding:
    folder = settings.data_dir
    if settings.is_sqlite:
        folder = Path(make_url(settings.sqlalchemy_url).database or folder).parent
    folder = folder if folder.exists() else folder.parent
    usage = shutil.disk_usage(folder)
    free_mb = usage.free // 1024**2
    writable = os.access(folder, os.W_OK)
    if not writable:
        return Finding("disk", False, f"{folder} is not writable", "give the service account write access")
    if usage.free < MIN_FREE_BYTES:
        return Finding(
            "disk", False, f"only {free_mb} MB free in {folder}", "free some space (old backups, logs) or grow the disk"
        )
    return Finding("disk", True, f"{free_mb} MB free in {folder}")


def run(settings: Settings, emit: Callable[[Finding], None]) -> bool:
    """Run every check, emitting each finding as it comes; True if all are OK."""
    findings: list[Finding] = []

    def note(finding: Finding) -> None:
        findings.append(finding)
        emit(finding)

    for finding in _settings_sanity(settings):
        note(finding)
    workers = _workers(settings)
    if workers is not None:
        note(workers)
    engine = create_engine(settings.sqlalchemy_url, poolclass=NullPool)
    try:
        reachable = _database(engine)
        note(reachable)
        if reachable.ok:
            for check in (_schema(engine), _event_stream(settings, engine), _printers(settings, engine)):
                try:
                    for finding in check:
                        note(finding)
                except Exception as exc:  # a check that breaks is a finding too, not a traceback
                    note(Finding("check", False, f"could not run: {exc}", "report this with the output above"))
    finally:
        engine.dispose()
    note(_disk(settings))
    return all(finding.ok for finding in findings)


__all__ = ["Finding", "run"]
