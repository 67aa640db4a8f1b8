"""The migrations build exactly the schema the models describe, 0003 backfills queue lengths, released
migrations never change, and 0005 repairs databases made by the early 0001."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from tests.support.databases import POSTGRES_URL
from tests.support.seed import seed
from wins import migrate
from wins.app import create_app
from wins.config import Settings
from wins.models import Base

VERSIONS = migrate.MIGRATIONS / "versions"
FIXTURES = Path(__file__).parent / "fixtures"

# Every migration that has shipped, with the sha256 of its file. A released migration is never edited (a
# database that already ran it would never see the edit); fix forward with a new one. When a release ships
# a new migration, add it here.
RELEASED = {
    "0001_initial_schema.py": "2d4367fd0c1996bcaba7b2cdcfbb39b3b6e29c4b2e9e67d7eb4f7508dc336b00",
    "0002_history_indexes.py": "c08a6c121b88b0b90141de17d58e8849d93a22a2b930775236b306e390e31487",
    "0003_queue_counts.py": "712c75fe3c63f1c0f1979d46fa5223d4e36921c4430da72a35bff7298d7deff7",
    "0004_partial_history_indexes.py": "b84f7a21791cd0d6407907cc344ec59ff694e95d2026bb5c72c4ab3e7eb8aa4f",
}


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations disagree (write a migration): {diff}"


def test_queue_lengths_are_backfilled_from_waiting_tickets(database_url: str) -> None:
    engine = create_engine(database_url, poolclass=NullPool)
    day = date(2026, 11, 2)
    try:
        command.downgrade(migrate.alembic_config(database_url), "0002")  # the test database starts at head
        with engine.begin() as conn:
            branch = conn.execute(
                text(
                    "INSERT INTO branches (name, timezone, day_rollover_hour, settings, created_at)"
                    " VALUES ('B', 'UTC', 0, '{}', CURRENT_TIMESTAMP) RETURNING id"
                )
            ).scalar_one()
            a, b = (
                conn.execute(
                    text(
                        "INSERT INTO services (branch_id, name, prefix, colour, active, priority_weight, sort_order,"
                        " created_at) VALUES (:b, :n, :n, '#000000', true, 0, 0, CURRENT_TIMESTAMP) RETURNING id"
                    ),
                    {"b": branch, "n": name},
                ).scalar_one()
                for name in ("A", "B")
            )
            conn.execute(
                text("INSERT INTO ticket_sequences (service_id, business_day, last_seq) VALUES (:s, :d, 4)"),
                {"s": a, "d": day},
            )
            # A: two waiting (one priority), one done, one transferred away to B (which issued nothing that day).
            for seq, service, status, priority in (
                (1, a, "waiting", False),
                (2, a, "waiting", True),
                (3, a, "done", False),
                (4, b, "waiting", False),
            ):
                conn.execute(
                    text(
                        "INSERT INTO tickets (branch_id, service_id, issued_service_id, business_day, seq, number,"
                        " priority, status, tracking_token, issued_at, queue_at, call_count, transfer_count)"
                        " VALUES (:br, :s, :issued, :d, :seq, :num, :p, :st, :tok, CURRENT_TIMESTAMP,"
                        " CURRENT_TIMESTAMP, 0, 0)"
                    ),
                    {
                        "br": branch,
                        "s": service,
                        "issued": a,
                        "d": day,
                        "seq": seq,
                        "num": f"A00{seq}",
                        "p": priority,
                        "st": status,
                        "tok": f"token-{seq}",
                    },
                )
        migrate.upgrade(database_url, "head")
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT service_id, last_seq, waiting, waiting_priority FROM ticket_sequences ORDER BY service_id")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [(a, 4, 2, 1), (b, 0, 1, 0)]


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_released_migrations_are_never_edited(name: str) -> None:
    digest = hashlib.sha256((VERSIONS / name).read_bytes()).hexdigest()
    assert digest == RELEASED[name], (
        f"{name} has shipped and must not change: a database that already ran it never sees the edit. "
        "Undo the edit and write a new migration instead."
    )


def _unique_rule(url: str) -> list[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        rules = {u["name"]: u["column_names"] for u in inspect(engine).get_unique_constraints("tickets")}
    finally:
        engine.dispose()
    return list(rules["uq_tickets_service_day_seq"])


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'early.db'}"
        return
    name = f"wins_early_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_URL.rpartition('/')[0]}/{name}".replace("postgresql://", "postgresql+psycopg://")
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _upgrade_as_first_release_site(url: str, tmp_path: Path) -> None:
    """The migrations a site that installed the first release ran: the ORIGINAL 0001 (as shipped, taken
    from git history into tests/fixtures), then 0002-0004 as released."""
    scripts = tmp_path / "early_migrations"
    shutil.copytree(migrate.MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    for extra in (scripts / "versions").glob("*.py"):
        if extra.name not in RELEASED:
            extra.unlink()
    shutil.copyfile(FIXTURES / "early_0001_initial_schema.py.txt", scripts / "versions" / "0001_initial_schema.py")
    config = migrate.alembic_config(url)
    config.set_main_option("script_location", str(scripts))
    command.upgrade(config, "0004")


def test_0005_repairs_a_database_created_by_the_early_0001(
    backend: str, empty_database_url: str, tmp_path: Path
) -> None:
    url = empty_database_url
    _upgrade_as_first_release_site(url, tmp_path)
    # The bug is reproduced: numbers unique per *current* service, so A001 moved to B collides with B001 (the
    # app of today cannot run on this old schema to show the 409: later migrations add columns it needs).
    assert _unique_rule(url) == ["service_id", "business_day", "seq"]

    migrate.upgrade(url)
    assert _unique_rule(url) == ["issued_service_id", "business_day", "seq"]

    settings = Settings(database_url=url, data_dir=tmp_path / "data", secret_key="t" * 40, log_level="WARNING")
    data = seed(settings)
    staff = {"Authorization": f"Bearer {data.tokens['staff']}"}
    kiosk = {"Authorization": f"Bearer {data.tokens['kiosk']}"}

    def transfer(client: TestClient, ticket_id: int) -> int:
        r = client.post(f"/api/v1/tickets/{ticket_id}/transfer", json={"service_id": data.services["B"]}, headers=staff)
        return int(r.status_code)

    with TestClient(create_app(settings)) as client:
        a1 = client.post("/api/v1/tickets", json={"service_id": data.services["A"]}, headers=kiosk).json()
        client.post("/api/v1/tickets", json={"service_id": data.services["B"]}, headers=kiosk)  # B001

    with TestClient(create_app(settings)) as client:
        assert transfer(client, a1["id"]) == 200
        moved = client.get(f"/api/v1/tickets/{a1['id']}", headers=staff).json()
        assert moved["number"] == "A001" and moved["service_id"] == data.services["B"]
        # Numbers still cannot repeat within the issuing service: the rule is there, on the right columns.
        a2 = client.post("/api/v1/tickets", json={"service_id": data.services["A"]}, headers=kiosk).json()
        assert a2["number"] == "A002"

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            if backend == "sqlite":  # the partial indexes kept their WHERE through the table rebuild
                partial = conn.execute(
                    text("SELECT name FROM sqlite_master WHERE type='index' AND sql LIKE '%WHERE%' ORDER BY name")
                ).scalars()
                assert set(partial) >= {"ix_tickets_counter_finished", "ix_tickets_service_finished"}
    finally:
        engine.dispose()
    assert diff == [], f"the repaired schema differs from the models: {diff}"


def test_0005_changes_nothing_on_a_good_database(database_url: str) -> None:
    """The corrected 0001 already made the right rule: 0004 -> 0005 leaves it as it is."""
    command.downgrade(migrate.alembic_config(database_url), "0004")
    before = _unique_rule(database_url)
    migrate.upgrade(database_url)
    assert before == _unique_rule(database_url) == ["issued_service_id", "business_day", "seq"]
