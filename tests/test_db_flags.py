"""The seams between the database layer and the modules that listen to it are explicit: WINS's ORM listeners act
on WINS's own sessions only, and a transaction made without a Session reports what it wrote itself."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tests.support.seed import Seeded, seed
from wins import clock, db_flags
from wins.config import Settings
from wins.db import Database, RawTransaction
from wins.services.models import Service
from wins.tickets.models import Ticket, TicketSequence


def _settings(sqlite_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=sqlite_url, data_dir=tmp_path / "data", secret_key="t" * 40, log_level="WARNING")


def test_a_foreign_session_on_the_same_database_is_left_alone(sqlite_url: str, tmp_path: Path) -> None:
    """A plain SQLAlchemy Session (a script, another library) gets none of WINS's listeners: its ticket insert
    does not touch the queue counts that WINS's own sessions keep in step."""
    settings = _settings(sqlite_url, tmp_path)
    data: Seeded = seed(settings)
    db = Database(settings)
    try:
        now = clock.utcnow()
        with Session(db.write_engine) as foreign, foreign.begin():
            branch_id = foreign.scalar(select(Service.branch_id).where(Service.id == data.services["A"]))
            foreign.add(
                Ticket(
                    branch_id=branch_id,
                    service_id=data.services["A"],
                    issued_service_id=data.services["A"],
                    business_day=now.date(),
                    seq=900,
                    number="A900",
                    tracking_token="foreign-session-token",
                    issued_at=now,
                    queue_at=now,
                )
            )
            assert not db_flags.queue_deltas(foreign)  # no WINS listener noted a queue change
        with db.session(write=False) as read:
            assert read.scalars(select(TicketSequence)).all() == []
    finally:
        db.dispose()


def test_raw_write_reports_its_events_to_the_after_commit_hooks(sqlite_url: str, tmp_path: Path) -> None:
    db = Database(_settings(sqlite_url, tmp_path))
    seen: list[bool] = []
    db.after_commit_hooks.append(lambda tx: seen.append(db_flags.take_events_written(tx)))
    try:

        def quiet(tx: RawTransaction) -> None:
            tx.conn.execute("SELECT 1")

        def writes_an_event(tx: RawTransaction) -> None:
            tx.conn.execute(
                "INSERT INTO events (at, type, data, branch_id) VALUES (?, 'test.raw', '{}', NULL)",
                (clock.utcnow().replace(tzinfo=None).isoformat(sep=" "),),
            )
            db_flags.note_events_written(tx)

        db.raw_sqlite_write(quiet)
        db.raw_sqlite_write(writes_an_event)
        assert seen == [False, True]
        with db.session(write=False) as read:
            assert read.execute(text("SELECT count(*) FROM events WHERE type = 'test.raw'")).scalar() == 1
    finally:
        db.dispose()


def test_a_rolled_back_session_forgets_its_events(sqlite_url: str, tmp_path: Path) -> None:
    db = Database(_settings(sqlite_url, tmp_path))
    try:
        session = db.open()
        session.execute(text("SELECT 1"))
        db_flags.note_events_written(session)
        session.rollback()
        assert not db_flags.events_written(session)
        session.close()
    finally:
        db.dispose()
