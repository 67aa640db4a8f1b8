"""Operations commands: `wins backup`, `wins restore`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from wins.config import Settings
from wins.errors import WinsError


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's message already says which setting is wrong
        raise click.ClickException(str(exc)) from exc


def _default_name(settings: Settings) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "db" if settings.is_sqlite else "pgdump"
    return settings.data_dir / "backups" / f"wins-{stamp}.{suffix}"


@click.command("backup")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path | None) -> None:
    """Write a consistent backup of the database to FILE (default: <data_dir>/backups/wins-<time>.db|.pgdump).
    Safe while the server runs. SQLite: a copy made with SQLite's online backup; PostgreSQL: pg_dump -Fc."""
    from wins.ops.backup import backup

    settings = _settings()
    try:
        written = backup(settings, file or _default_name(settings))
    except WinsError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Backup written: {written}")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(file: Path, yes: bool) -> None:
    """Replace the whole database with the backup in FILE, then upgrade its schema. Refused while a server
    runs on the database: stop it first."""
    from wins.ops.backup import restore
    from wins.ops.presence import exclusive_use

    settings = _settings()
    try:
        with exclusive_use(settings):  # refuse before asking, not after
            pass
    except WinsError as exc:
        raise click.ClickException(exc.message) from exc
    if not yes:
        click.confirm(f"Replace everything in the WINS database with {file}?", abort=True)
    try:
        restore(settings, file)
    except WinsError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Database restored from {file}.")
