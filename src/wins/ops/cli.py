"""Operations commands: `wins backup`, `wins restore`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from wins.config import Settings
from wins.errors import ValidationFailed as WinsValidation
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


# -- wins setup ---------------------------------------------------------------------------------------------

EXIT_INVALID = 2  # a value was refused (the message names the option)
EXIT_ALREADY_SET_UP = 3  # the site has a branch: nothing changed


@click.command("setup")
@click.option("--branch", "branch", default=None, help="The branch's name, e.g. 'Main street clinic'.")
@click.option("--timezone", default=None, help="IANA time zone of the branch, e.g. Europe/Paris.")
@click.option(
    "--rollover-hour", type=int, default=None, help="Local hour at which the business day (and numbering) restarts."
)
@click.option(
    "--language", "languages", multiple=True, help="Kiosk and display language, repeatable (first is the default)."
)
@click.option("--admin", default=None, help="Username of the first admin account.")
@click.option("--password-stdin", is_flag=True, help="Read the admin's password from standard input.")
@click.option("--service", "services", multiple=True, help='A service as "Name:PREFIX" (repeatable).')
@click.option(
    "--counter",
    "counters",
    multiple=True,
    help='A counter as "Name:PREFIX,PREFIX" (repeatable; the order is the calling order).',
)
def setup_command(
    branch: str | None,
    timezone: str | None,
    rollover_hour: int | None,
    languages: tuple[str, ...],
    admin: str | None,
    password_stdin: bool,
    services: tuple[str, ...],
    counters: tuple[str, ...],
) -> None:
    """Set up a new site: its branch, the first admin account and, optionally, services and counters. Asks for
    what is missing when run in a terminal; otherwise give --branch, --timezone, --admin and --password-stdin.
    Runs the database migrations first. Refused (exit 3, nothing changed) on a site that is already set up;
    a refused value exits with 2 and names the option."""
    import sys

    from wins.branches.service import has_branch
    from wins.db import Database
    from wins.migrate import upgrade
    from wins.ops.setup import (
        ALREADY_SET_UP,
        AlreadySetUp,
        SetupPlan,
        apply_setup,
        check_plan,
        parse_counter,
        parse_languages,
        parse_service,
    )

    settings = _settings()
    interactive = sys.stdin.isatty() and not password_stdin
    try:
        upgrade(settings.sqlalchemy_url)
        with Database(settings).session(write=False) as session:
            if has_branch(session):  # before any question: nothing to ask on a site already set up
                raise AlreadySetUp(ALREADY_SET_UP)
        plan = SetupPlan(
            branch=branch or _ask(interactive, "Branch name", "--branch"),
            timezone=timezone or _ask(interactive, "Time zone (e.g. Europe/Paris)", "--timezone", _local_zone()),
            rollover_hour=rollover_hour
            if rollover_hour is not None
            else int(_ask(interactive, "Business day starts at hour (0-23)", None, "0", int)),
            languages=parse_languages(list(languages) or [_ask(interactive, "Languages (e.g. en,fr)", None, "en")]),
            admin=admin or _ask(interactive, "Admin username", "--admin", "admin"),
            password=_password(interactive, password_stdin),
            services=[parse_service(text) for text in services or _ask_many(interactive, "Service (Name:PREFIX)")],
            counters=[
                parse_counter(text) for text in counters or _ask_many(interactive, "Counter (Name:PREFIX,PREFIX)")
            ],
        )
        check_plan(plan)
        with Database(settings).session() as session:
            result = apply_setup(session, plan)
    except AlreadySetUp as exc:
        click.echo(f"Error: {exc.message}", err=True)
        raise SystemExit(EXIT_ALREADY_SET_UP) from exc
    except WinsError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        raise SystemExit(EXIT_INVALID if exc.status_code in (409, 422) else 1) from exc
    click.echo(f"Branch {plan.branch!r} is set up ({plan.timezone}, day starts at {plan.rollover_hour}:00).")
    click.echo(f"Admin account {plan.admin!r} created: sign in at /login.")
    if result.services:
        click.echo("Services: " + ", ".join(result.services))
    if result.counters:
        click.echo("Counters: " + ", ".join(result.counters))
    click.echo("Next: add services, counters, staff and devices in the admin pages (/admin).")


def _ask(interactive: bool, prompt: str, option: str | None, default: str | None = None, kind: type = str) -> str:
    if not interactive:
        if option is None and default is not None:
            return default
        raise WinsValidation(f"{option} is required (or run `wins setup` in a terminal to be asked).")
    return str(click.prompt(prompt, default=default, type=kind))


def _ask_many(interactive: bool, prompt: str) -> list[str]:
    """In a terminal: one per line until an empty answer."""
    answers: list[str] = []
    while interactive:
        answer = click.prompt(f"{prompt}, empty to finish", default="", show_default=False).strip()
        if not answer:
            break
        answers.append(answer)
    return answers


def _password(interactive: bool, from_stdin: bool) -> str:
    import sys

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise WinsValidation("--password-stdin: standard input held no password.")
        return password
    if not interactive:
        raise WinsValidation("--password-stdin is required (or run `wins setup` in a terminal to be asked).")
    return str(click.prompt("Admin password", hide_input=True, confirmation_prompt=True))


def _local_zone() -> str:
    """The server's own zone as the suggestion (Debian keeps it in /etc/timezone), else UTC."""
    try:
        zone = Path("/etc/timezone").read_text(encoding="utf-8").strip()
    except OSError:
        return "UTC"
    return zone or "UTC"
