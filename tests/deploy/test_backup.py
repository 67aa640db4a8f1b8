"""`wins backup` / `wins restore` on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from tests.support.databases import TemplateCache
from tests.support.seed import seed
from tests.support.server import LiveServer

from wins.cli import main
from wins.config import Settings
from wins.db import Database
from wins.staff.models import StaffUser


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, templates: TemplateCache, tmp_path: Path) -> Iterator[str]:
    with templates.database(str(request.param), tmp_path) as url:
        yield url


def usernames(settings: Settings) -> set[str]:
    db = Database(settings)
    try:
        with db.session(write=False) as session:
            return set(session.scalars(select(StaffUser.username)))
    finally:
        db.dispose()


def test_backup_then_restore_brings_the_data_back(db_url: str, tmp_path: Path) -> None:
    env = {"WINS_DATABASE_URL": db_url, "WINS_DATA_DIR": str(tmp_path / "data"), "WINS_SECRET_KEY": "s" * 40}
    settings = Settings(database_url=db_url, data_dir=tmp_path / "data", secret_key="s" * 40)
    seed(settings)
    runner = CliRunner()
    backup_file = tmp_path / "backups" / "wins.backup"

    result = runner.invoke(main, ["backup", str(backup_file)], env=env)
    assert result.exit_code == 0, result.output
    assert backup_file.stat().st_mode & 0o077 == 0  # password hashes inside: owner only
    assert backup_file.read_bytes()[:5] == (b"SQLit" if db_url.startswith("sqlite") else b"PGDMP")

    result = runner.invoke(main, ["users", "create", "after-backup", "--role", "staff"], env=env)
    assert result.exit_code == 0, result.output
    assert "after-backup" in usernames(settings)

    result = runner.invoke(main, ["restore", str(backup_file)], env=env, input="n\n")
    assert result.exit_code != 0  # asked, refused: nothing changed
    assert "after-backup" in usernames(settings)

    result = runner.invoke(main, ["restore", "--yes", str(backup_file)], env=env)
    assert result.exit_code == 0, result.output
    assert usernames(settings) == {"admin", "manager", "reception", "staff", "staff2"}


def test_default_backup_name_and_wrong_kind_refused(db_url: str, tmp_path: Path) -> None:
    env = {"WINS_DATABASE_URL": db_url, "WINS_DATA_DIR": str(tmp_path / "data"), "WINS_SECRET_KEY": "s" * 40}
    runner = CliRunner()
    result = runner.invoke(main, ["backup"], env=env)
    assert result.exit_code == 0, result.output
    written = list((tmp_path / "data" / "backups").iterdir())
    assert len(written) == 1
    assert written[0].name.startswith("wins-")

    wrong = tmp_path / "wrong.backup"
    wrong.write_bytes(b"PGDMP-not-really" if db_url.startswith("sqlite") else b"SQLite format 3\x00")
    result = runner.invoke(main, ["restore", "--yes", str(wrong)], env=env)
    assert result.exit_code == 1
    assert "is not a" in result.output, result.output


def test_damaged_sqlite_backup_is_refused_before_touching_the_database(sqlite_url: str, tmp_path: Path) -> None:
    env = {"WINS_DATABASE_URL": sqlite_url, "WINS_DATA_DIR": str(tmp_path / "data"), "WINS_SECRET_KEY": "s" * 40}
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path / "data", secret_key="s" * 40)
    seed(settings)
    runner = CliRunner()
    good = tmp_path / "good.db"
    assert runner.invoke(main, ["backup", str(good)], env=env).exit_code == 0
    damaged = tmp_path / "damaged.db"
    data = bytearray(good.read_bytes())
    data[4096 + 200 : 4096 * 3] = b"\xff" * (4096 * 3 - 4096 - 200)  # wreck b-tree pages, keep the header
    damaged.write_bytes(bytes(data))
    result = runner.invoke(main, ["restore", "--yes", str(damaged)], env=env)
    assert result.exit_code == 1
    assert "is damaged" in result.output
    assert usernames(settings) == {"admin", "manager", "reception", "staff", "staff2"}


def test_restore_is_refused_while_a_server_runs_on_the_database(db_url: str, tmp_path: Path) -> None:
    """A real server process holds the database: restore refuses (before asking) and changes nothing; once
    the server is stopped the same restore goes through."""
    env = {"WINS_DATABASE_URL": db_url, "WINS_DATA_DIR": str(tmp_path / "data"), "WINS_SECRET_KEY": "s" * 40}
    settings = Settings(database_url=db_url, data_dir=tmp_path / "data", secret_key="s" * 40)
    seed(settings)
    runner = CliRunner()
    backup_file = tmp_path / "wins.backup"
    assert runner.invoke(main, ["backup", str(backup_file)], env=env).exit_code == 0
    assert runner.invoke(main, ["users", "create", "after-backup"], env=env).exit_code == 0

    # Another data dir on purpose: the lock belongs to the database, not to the server's data dir.
    server = LiveServer({**env, "WINS_DATA_DIR": str(tmp_path / "server-data")}, log_path=tmp_path / "server.log")
    with server:
        result = runner.invoke(main, ["restore", str(backup_file)], env=env)  # no --yes: must not even ask
        assert result.exit_code == 1, result.output
        assert "server is running on this database" in result.output and "Replace" not in result.output
        result = runner.invoke(main, ["restore", "--yes", str(backup_file)], env=env)
        assert result.exit_code == 1, result.output
        assert "after-backup" in usernames(settings)
        assert httpx.get(server.url + "/health", timeout=5).status_code == 200

    result = runner.invoke(main, ["restore", "--yes", str(backup_file)], env=env)
    assert result.exit_code == 0, result.output
    assert "after-backup" not in usernames(settings)
