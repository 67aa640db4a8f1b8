"""The migrations build exactly the schema the models describe, and 0003 backfills queue lengths."""

from __future__ import annotations

from datetime import date

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from wins import migrate
from wins.models import Base


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
