"""The `wins` command: serve, db upgrade, users, devices, demo."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

import click

from wins.config import LogFormat, Settings


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's message already says which setting is wrong
        raise click.ClickException(str(exc)) from exc


def _print_version(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from wins.version import full_version

    click.echo(f"wins {full_version()}")
    ctx.exit()


@click.group(help="WINS — Waiting Issue Number System. Settings come from WINS_* environment variables.")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version (and the git commit when known) and exit.",
)
def main() -> None:
    logging.captureWarnings(True)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema to the latest version (safe to run again)."""
    from wins.migrate import upgrade

    settings = _settings()
    upgrade(settings.sqlalchemy_url)
    click.echo(f"Database is up to date: {_safe_url(settings)}")


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)


def _session(settings: Settings):  # type: ignore[no-untyped-def]
    from wins.db import Database

    return Database(settings).session()


@main.command()
def demo() -> None:
    """Create demo data (a branch, services A/B/C, four counters, an admin) if the database is empty."""
    from wins.demo import PRODUCTION_REFUSAL, demo_allowed, seed_demo
    from wins.migrate import upgrade

    settings = _settings()
    if not demo_allowed(settings):
        raise click.ClickException(PRODUCTION_REFUSAL)
    upgrade(settings.sqlalchemy_url)
    with _session(settings) as session:
        result = seed_demo(session)
    if not result.created:
        click.echo("The database already has a branch; nothing was changed.")
        return
    click.echo("Demo data created: services A, B, C and counters 1–4.")
    if result.admin_password:
        click.echo(f"Admin sign-in: username 'admin', password '{result.admin_password}' (shown only this once).")


@main.command()
@click.option("--host", default=None, help="Address to listen on (default WINS_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default WINS_PORT or 8000).")
@click.option("--workers", default=None, type=int, help="Worker processes (default WINS_WORKERS or 1).")
@click.option("--no-demo", is_flag=True, help="Do not create demo data on an empty database.")
def serve(host: str | None, port: int | None, workers: int | None, no_demo: bool) -> None:
    """Upgrade the database, create demo data on first start, and run the server."""
    import uvicorn

    from wins.demo import PRODUCTION_REFUSAL, demo_allowed, seed_demo
    from wins.logging_setup import configure_logging, server_log_config
    from wins.migrate import upgrade
    from wins.ops.doctor import too_many_workers
    from wins.ops.serving import WEBSOCKET_OPTIONS

    settings = _settings()
    configure_logging(settings)
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    if settings.is_sqlite and workers > 1:
        click.echo("Note: with SQLite keep one worker; use PostgreSQL for several.", err=True)
    elif (crowded := too_many_workers(settings, workers)) is not None:
        click.echo("Note: {}; {}.".format(*crowded), err=True)
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # /metrics adds up all workers' figures from files here (as deploy/gunicorn.conf.py does).
        metrics_dir = (settings.data_dir / "metrics").resolve()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    upgrade(settings.sqlalchemy_url)
    if not demo_allowed(settings):
        _warn_if_no_staff(settings, PRODUCTION_REFUSAL)
    elif settings.demo_on_first_start and not no_demo:
        with _session(settings) as session:
            result = seed_demo(session)
        if result.created:
            click.echo("First start: demo data created (services A, B, C; counters 1–4).")
            if result.admin_password:
                click.echo(
                    f"  Admin sign-in: username 'admin', password '{result.admin_password}'"
                    " — write it down, it is shown only this once."
                )
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown}:{port}"
    command = sys.argv[0] if Path(sys.argv[0]).name == "wins" else "wins"  # e.g. .venv/bin/wins
    banner = [
        f"WINS is starting on {base}",
        f"  Staff sign-in:   {base}/login",
        # /display needs a paired screen or a manager's web session: send whoever just read the admin password
        # through the sign-in page, and say how a real TV gets paired.
        f"  Display board:   {base}/login?next=/display  (sign in as admin; it opens the board)",
        f'    To pair a TV:   {command} devices create "Waiting room TV" --kind display',
        f"                   then open {base}/display?token=THE_TOKEN once on that TV",
        f"  API docs:        {base}/docs",
        f"  Health:          {base}/health",
    ]
    if settings.log_format == LogFormat.json:  # a collector reading this stream expects JSON on every line
        logging.getLogger("wins.cli").info(" | ".join(line.strip() for line in banner))
    else:
        click.echo("\n".join(banner))
    sys.stdout.flush()
    uvicorn.run(
        "wins.asgi:app",
        host=host,
        port=port,
        workers=workers,
        # uvicorn's messages through WINS' one handler (format, redaction); the app reads X-Forwarded-* itself
        # from WINS_TRUSTED_PROXIES (wins.access_log), so uvicorn must not rewrite the peer first.
        log_config=server_log_config(settings),
        proxy_headers=False,
        # Long-polls and WebSockets would otherwise hold a stop or restart for up to their timeout; clients
        # reconnect and resume from their last event id, so cutting them short loses nothing.
        timeout_graceful_shutdown=5,
        **WEBSOCKET_OPTIONS,
    )


def _warn_if_no_staff(settings: Settings, message: str) -> None:
    """Production never seeds: on a site not set up (no staff account, or no branch) say how to set it up."""
    from sqlalchemy import select

    from wins.branches.service import has_branch
    from wins.staff.models import StaffUser

    with _session(settings) as session:
        if session.scalar(select(StaffUser.id).limit(1)) is None:
            click.echo(f"No staff account exists yet. {message}", err=True)
        elif not has_branch(session):
            click.echo(
                "No branch is set up yet: run `wins setup`, or sign in as an admin and create it on the "
                "first-run page (/admin/branches).",
                err=True,
            )


@main.command()
def doctor() -> None:
    """Check this installation: settings, database and schema, event stream, printers, disk space.
    One line per check; the exit status is 1 if any check fails."""
    from wins.ops.doctor import run

    settings = _settings()
    click.echo(f"WINS {_full_version()} — checking {_safe_url(settings)}")
    if not run(settings, lambda finding: click.echo(finding.line())):
        raise SystemExit(1)


@main.command("expire-day")
def expire_day() -> None:
    """End of day by hand (cron, ops): tickets of an ended business day still waiting, called or serving become
    `expired`. Every server does this by itself every 30 s; running it beside them is safe (each ticket expires
    once)."""
    from wins.db import Database
    from wins.tickets.expiry import expire_ended_days

    settings = _settings()
    db = Database(settings)
    try:
        count = expire_ended_days(db)
    finally:
        db.dispose()
    click.echo(f"{count} open ticket{'' if count == 1 else 's'} of ended business days expired.")


def _full_version() -> str:
    from wins.version import full_version

    return full_version()


@main.group()
def users() -> None:
    """Staff accounts."""


ROLES = ["reception", "staff", "manager", "admin"]


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="staff", show_default=True)
@click.option(
    "--branch",
    "branch_refs",
    multiple=True,
    metavar="NUMBER_OR_NAME",
    help="A branch the account works in, with --role there (repeat for several). Default: every branch.",
)
@click.option("--full-name", default="", help="Name shown on screens.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(username: str, role: str, branch_refs: tuple[str, ...], full_name: str, password_stdin: bool) -> None:
    """Create a staff account. Without --password-stdin a password is generated and printed. An admin account
    is head office: admin in every branch, whatever --branch says."""
    from wins.errors import WinsError
    from wins.staff.membership import branch_roles, find_branch
    from wins.staff.models import Role
    from wins.staff.security import generate_password
    from wins.staff.service import create_user

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else generate_password()
    settings = _settings()
    try:
        with _session(settings) as session:
            branch_ids = [find_branch(session, ref).id for ref in branch_refs] or None
            user = create_user(
                session,
                username=username,
                password=password,
                role=Role(role),
                full_name=full_name,
                branch_ids=branch_ids,
                actor=None,
            )
            where = ", ".join(str(row["branch_name"]) for row in branch_roles(session, user.id))
    except WinsError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"User {username!r} created with role {role} in: {where or 'no branch yet (wins setup)'}.")
    if not password_stdin:
        click.echo(f"Password: {password}")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_set_password(username: str, password_stdin: bool) -> None:
    """Reset a staff password (also unlocks the account and signs it out everywhere)."""
    from sqlalchemy import select

    from wins.errors import WinsError
    from wins.staff.models import StaffUser
    from wins.staff.security import generate_password
    from wins.staff.service import update_user

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else generate_password()
    try:
        with _session(_settings()) as session:
            user = session.scalar(select(StaffUser).where(StaffUser.username == username))
            if user is None:
                raise click.ClickException(f"No user named {username!r}.")
            update_user(session, user.id, changes={"password": password}, actor=None)
    except WinsError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Password of {username!r} changed.")
    if not password_stdin:
        click.echo(f"Password: {password}")


def _user_id(session, username: str) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from wins.staff.models import StaffUser

    user_id: int | None = session.scalar(select(StaffUser.id).where(StaffUser.username == username))
    if user_id is None:
        raise click.ClickException(f"No user named {username!r}.")
    return user_id


def _echo_branches(rows: list[dict[str, object]], username: str) -> None:
    for row in rows:
        click.echo(f"{row['branch_id']}\t{row['branch_name']}\t{row['role']}")
    if not rows:
        click.echo(f"{username} has no branch of its own: it acts with its own role in the first branch.")


@users.command("branches")
@click.argument("username")
def users_branches(username: str) -> None:
    """List the branches USERNAME works in (number, name, role), and every branch that exists."""
    from sqlalchemy import select

    from wins.branches.models import Branch
    from wins.staff.membership import branch_roles
    from wins.staff.models import Role, StaffUser

    with _session(_settings()) as session:
        user_id = _user_id(session, username)
        rows = branch_roles(session, user_id)
        head_office = session.scalar(select(StaffUser.role).where(StaffUser.id == user_id)) == Role.admin
        branches = [(b.id, b.name) for b in session.scalars(select(Branch).order_by(Branch.id))]
    _echo_branches(rows, username)
    if head_office:
        click.echo(f"{username} is an admin account (head office): admin in every branch, listed or not.")
    click.echo("Branches: " + (", ".join(f"{i} ({name})" for i, name in branches) or "none yet (wins setup)"))


@users.command("add-branch")
@click.argument("username")
@click.argument("branch", metavar="BRANCH")
@click.option("--role", type=click.Choice(ROLES), required=True, help="The account's role in that branch.")
def users_add_branch(username: str, branch: str, role: str) -> None:
    """Let USERNAME work in BRANCH (a number or exact name) with --role, or change its role there. Its signed-in
    pages and open screens follow at once."""
    from wins.errors import WinsError
    from wins.staff.membership import find_branch, put_branch_role
    from wins.staff.models import Role

    try:
        with _session(_settings()) as session:
            user_id = _user_id(session, username)
            rows = put_branch_role(
                session, user_id, branch_id=find_branch(session, branch).id, role=Role(role), actor=None
            )
    except WinsError as exc:
        raise click.ClickException(exc.message) from exc
    _echo_branches(rows, username)


@users.command("remove-branch")
@click.argument("username")
@click.argument("branch", metavar="BRANCH")
def users_remove_branch(username: str, branch: str) -> None:
    """Stop USERNAME working in BRANCH (a number or exact name); not its last branch (deactivate the account
    instead). Its signed-in pages and open screens in that branch stop at once."""
    from wins.errors import WinsError
    from wins.staff.membership import find_branch, remove_branch_role

    try:
        with _session(_settings()) as session:
            user_id = _user_id(session, username)
            rows = remove_branch_role(session, user_id, branch_id=find_branch(session, branch).id, actor=None)
    except WinsError as exc:
        raise click.ClickException(exc.message) from exc
    _echo_branches(rows, username)


@main.group()
def devices() -> None:
    """Kiosks and display screens."""


@devices.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(["kiosk", "display"]), required=True)
def devices_create(name: str, kind: str) -> None:
    """Create a kiosk (prints its token, for the Kivy kiosk's settings; for a web-kiosk tablet run `wins devices
    pair NAME` then) or a display (prints a one-time pairing link to open on the screen)."""
    from wins.devices.models import DeviceKind
    from wins.devices.service import create_device, create_pairing_code, pairing_path
    from wins.errors import WinsError

    settings = _settings()
    try:
        with _session(settings) as session:
            device, token = create_device(session, name=name, kind=DeviceKind(kind), actor=None)
            link = None
            if device.kind == DeviceKind.display:
                _, code = create_pairing_code(session, device.id, seconds=settings.pairing_code_seconds, actor=None)
                link = pairing_path(device, code)
    except WinsError as exc:
        raise click.ClickException(exc.message) from exc
    if link is None:
        click.echo(token)
    else:
        _echo_pairing(settings, name, link)


@devices.command("pair")
@click.argument("name")
def devices_pair(name: str) -> None:
    """Print a new one-time pairing link for the display or web-kiosk tablet NAME."""
    from sqlalchemy import select

    from wins.devices.models import Device
    from wins.devices.service import create_pairing_code, pairing_path
    from wins.errors import WinsError

    settings = _settings()
    try:
        with _session(settings) as session:
            device = session.scalar(select(Device).where(Device.name == name).order_by(Device.id.desc()))
            if device is None:
                raise click.ClickException(f"No device is called {name!r}.")
            _, code = create_pairing_code(session, device.id, seconds=settings.pairing_code_seconds, actor=None)
            link = pairing_path(device, code)
    except WinsError as exc:
        raise click.ClickException(exc.message) from exc
    _echo_pairing(settings, name, link)


def _echo_pairing(settings: Settings, name: str, link: str) -> None:
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    minutes = max(1, settings.pairing_code_seconds // 60)
    click.echo(f"Open this on the screen of {name!r} within {minutes} minutes (it works once):")
    click.echo(base + link)


from wins.ops.cli import backup_command, restore_command, setup_command  # noqa: E402  (commands live with their area)
from wins.printing.cli import print_test  # noqa: E402

main.add_command(backup_command)
main.add_command(restore_command)
main.add_command(setup_command)
main.add_command(print_test)

if __name__ == "__main__":  # pragma: no cover
    main()
