"""End of day (wins.tickets.expiry): open tickets of an ended business day expire once, with one event each, the
queue counts stay exact, the phone and reports say so; the rollover or closing time moves the end; concurrent
runners (threads, and two live workers on PostgreSQL) never expire a ticket twice."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import Api
from tests.faults import invariants
from tests.support.seed import Seeded
from tests.support.server import LiveServer
from wins import clock
from wins.config import Settings
from wins.db import Database
from wins.events.models import Event
from wins.reports.service import build_report
from wins.tickets.expiry import expire_ended_days
from wins.tickets.models import Ticket, TicketSequence

DAY = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)  # 10:00 in Paris (the seeded branch's zone)
NEXT_MORNING = datetime(2026, 1, 11, 6, 0, tzinfo=UTC)  # 07:00 Paris: the 10th has ended at midnight


def _open_day(api: Api) -> dict[str, dict[str, object]]:
    """On the 10th: A001 served at counter 2, A002 called at counter 1, A003 waiting, B001 waiting (priority by
    staff), C001 done."""
    clock.freeze(DAY)
    tickets = {n: api.issue(p) for n, p in (("A001", "A"), ("A002", "A"), ("A003", "A"), ("C001", "C"))}
    tickets["B001"] = api.issue("B", who="staff", priority=True)
    # Three people at three counters (one person sits at one counter at a time: wins.counters.seating).
    served = api.call_next("2")
    api.act(served["id"], "start")
    api.call_next("1", who="staff2")  # A002
    done = api.call_next("4", who="manager")  # counter 4 serves C first
    api.act(done["id"], "complete", who="manager")
    return tickets


def _events(settings: Settings, kind: str) -> list[Event]:
    db = Database(settings)
    try:
        with db.session(write=False) as s:
            return list(s.scalars(select(Event).where(Event.type == kind).order_by(Event.id)))
    finally:
        db.dispose()


def test_open_tickets_of_an_ended_day_expire_once_with_one_event_each(api: Api, settings: Settings) -> None:
    tickets = _open_day(api)
    clock.freeze(NEXT_MORNING)
    db = Database(settings)
    try:
        assert expire_ended_days(db) == 4
        assert expire_ended_days(db) == 0  # nothing left: a second run changes nothing
        with db.session(write=False) as s:
            statuses = {n: st for n, st in s.execute(select(Ticket.number, Ticket.status)).all()}
            sequences = s.scalars(select(TicketSequence)).all()
            report = build_report(s, first_day=date(2026, 1, 10), last_day=date(2026, 1, 10))
    finally:
        db.dispose()
    tickets_now, events_now, sequences_now = invariants.load(settings)
    invariants.check_tickets(tickets_now, sequences_now)  # queue counts equal the waiting tickets
    invariants.check_events(tickets_now, events_now)  # each ticket's last event says expired
    assert statuses == {"A001": "expired", "A002": "expired", "A003": "expired", "B001": "expired", "C001": "done"}
    assert all(seq.waiting == 0 and seq.waiting_priority == 0 for seq in sequences)
    events = _events(settings, "ticket.expired")
    assert sorted(e.data["number"] for e in events) == ["A001", "A002", "A003", "B001"]
    assert all(e.data["status"] == "expired" for e in events)
    # Staff queues and counters drop them; staff cannot act on them any more.
    queue = api.queue()
    assert all(not s["tickets"] for s in queue["services"])
    assert all(c.get("ticket") is None for c in queue["counters"])
    refused = api.act(int(str(tickets["A003"]["id"])), "cancel", expect=409)
    assert "expired" in refused["detail"]
    # The customer's phone says it plainly (JSON of the page, and its long-poll).
    token = tickets["A003"]["tracking_token"]
    assert api.client.get(f"/api/v1/public/tickets/{token}").json()["status"] == "expired"
    update = api.client.get(f"/api/v1/public/tickets/{token}/updates", params={"timeout": 0}).json()
    assert update["ticket"]["status"] == "expired" and update["ticket"]["position"] == 0
    page = api.client.get(f"/t/{token}")
    assert "Please take a new ticket" in page.text
    # Reports count them.
    assert report.total["expired"] == 4 and report.total["done"] == 1
    # The new day starts empty and numbers restart.
    assert api.issue("A")["number"] == "A001"


def test_the_server_expires_yesterday_at_start_up(settings: Settings, seeded: Seeded) -> None:
    from fastapi.testclient import TestClient

    from wins.app import create_app

    with TestClient(create_app(settings)) as client:
        api = Api(client, seeded)
        _open_day(api)
    clock.freeze(NEXT_MORNING)
    with TestClient(create_app(settings)):  # a server that was off overnight
        pass
    assert len(_events(settings, "ticket.expired")) == 4


def test_closing_time_ends_the_day_early_but_spares_late_tickets(api: Api, settings: Settings) -> None:
    r = api.client.patch("/api/v1/branch", json={"settings": {"closing_time": "18:00"}}, headers=api.auth("manager"))
    assert r.status_code == 200, r.text
    clock.freeze(datetime(2026, 1, 10, 16, 0, tzinfo=UTC))  # 17:00 Paris
    early = api.issue("A")
    clock.freeze(datetime(2026, 1, 10, 17, 10, tzinfo=UTC))  # 18:10 Paris: after closing, staff working late
    late = api.issue("A", who="staff")
    db = Database(settings)
    try:
        assert expire_ended_days(db) == 1
        clock.freeze(datetime(2026, 1, 10, 23, 30, tzinfo=UTC))  # 00:30 Paris: the rollover ends the rest
        assert expire_ended_days(db) == 1
    finally:
        db.dispose()
    assert [e.data["id"] for e in _events(settings, "ticket.expired")] == [early["id"], late["id"]]


def test_moving_the_rollover_expires_what_the_move_ended(api: Api, settings: Settings) -> None:
    r = api.client.patch("/api/v1/branch", json={"day_rollover_hour": 4}, headers=api.auth("manager"))
    assert r.status_code == 200
    clock.freeze(datetime(2026, 1, 11, 1, 0, tzinfo=UTC))  # 02:00 Paris: still the business day of the 10th
    ticket = api.issue("A")
    assert ticket["business_day"] == "2026-01-10"
    # Back to midnight: it is now the 11th, so the 10th has ended, at once (no wait for the next check).
    r = api.client.patch("/api/v1/branch", json={"day_rollover_hour": 0}, headers=api.auth("manager"))
    assert r.status_code == 200
    assert api.get(f"/api/v1/tickets/{ticket['id']}", "staff")["status"] == "expired"
    # A move the other way ends nothing: today's ticket stays.
    today = api.issue("A")
    api.client.patch("/api/v1/branch", json={"day_rollover_hour": 4}, headers=api.auth("manager"))
    assert api.get(f"/api/v1/tickets/{today['id']}", "staff")["status"] == "waiting"


def _race(db: Database, barrier: threading.Barrier, counts: list[int]) -> None:
    barrier.wait()
    counts.append(expire_ended_days(db))


def test_two_concurrent_runners_expire_each_ticket_once(api: Api, settings: Settings) -> None:
    for round_ in range(3):
        clock.freeze(datetime(2026, 1, 10 + round_, 9, 0, tzinfo=UTC))
        for _ in range(20):
            api.issue("A")
            api.issue("B")
        clock.freeze(datetime(2026, 1, 11 + round_, 6, 0, tzinfo=UTC))
        dbs = [Database(settings) for _ in range(2)]
        counts: list[int] = []
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=_race, args=(db, barrier, counts)) for db in dbs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for db in dbs:
            db.dispose()
        assert sum(counts) == 40, counts
    events = _events(settings, "ticket.expired")
    assert len(events) == 120 and len({e.data["id"] for e in events}) == 120


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_two_live_workers_expire_each_ticket_once(settings: Settings, seeded: Seeded, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from wins.app import create_app

    with TestClient(create_app(settings)) as client:
        api = Api(client, seeded)
        clock.freeze(datetime(2025, 12, 1, 9, 0, tzinfo=UTC))  # long ago: ended for the real clock
        issued = [api.issue(p)["id"] for p in "ABC" * 15]
    clock.freeze(None)
    env = {
        "WINS_DATABASE_URL": settings.database_url,
        "WINS_SECRET_KEY": settings.secret_key,
        "WINS_DATA_DIR": str(settings.data_dir),
        "WINS_DAY_CHECK_SECONDS": "0.05",
    }
    server = LiveServer(env, workers=2, log_path=tmp_path / "server.log")
    server.start(timeout=90)  # two workers on a busy two-core machine
    try:
        # While both workers check every 50 ms, racing each other, more tickets of a past day arrive.
        with TestClient(create_app(settings)) as client:
            api = Api(client, seeded)
            clock.freeze(datetime(2025, 12, 2, 9, 0, tzinfo=UTC))
            issued += [api.issue(p)["id"] for p in "ABC" * 15]
        clock.freeze(None)
        deadline = time.monotonic() + 30
        while len(_events(settings, "ticket.expired")) < len(issued) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # ~20 more checks per worker: none may expire anything again
    finally:
        server.stop()
    assert "Traceback" not in (tmp_path / "server.log").read_text()
    events = _events(settings, "ticket.expired")
    assert sorted(e.data["id"] for e in events) == sorted(issued)


def test_upgraded_database_keeps_tickets_and_services_open_always(database_url: str) -> None:
    from alembic import command
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from wins import migrate

    command.downgrade(migrate.alembic_config(database_url), "0007")
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            branch = conn.execute(
                text(
                    "INSERT INTO branches (name, timezone, day_rollover_hour, settings, created_at)"
                    " VALUES ('B', 'UTC', 0, '{}', CURRENT_TIMESTAMP) RETURNING id"
                )
            ).scalar_one()
            service = conn.execute(
                text(
                    "INSERT INTO services (branch_id, name, prefix, colour, active, priority_weight, sort_order,"
                    " created_at) VALUES (:b, 'A', 'A', '#000000', true, 0, 0, CURRENT_TIMESTAMP) RETURNING id"
                ),
                {"b": branch},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO tickets (branch_id, service_id, issued_service_id, business_day, seq, number,"
                    " priority, status, tracking_token, issued_at, queue_at, call_count, transfer_count)"
                    " VALUES (:b, :s, :s, :d, 1, 'A001', false, 'waiting', 'tok-1', CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP, 0, 0)"
                ),
                {"b": branch, "s": service, "d": date(2025, 11, 2)},
            )
        migrate.upgrade(database_url, "head")
        with engine.connect() as conn:
            hours = conn.execute(text("SELECT hours FROM services")).scalar_one()
            status = conn.execute(text("SELECT status FROM tickets")).scalar_one()
            count = conn.execute(select(func.count()).select_from(Ticket.__table__)).scalar_one()
    finally:
        engine.dispose()
    assert hours is None and status == "waiting" and count == 1


def test_wins_expire_day_command(api: Api, settings: Settings) -> None:
    """`wins expire-day` (cron, ops) as a real subprocess on the test database: it expires the leftovers of past
    days (the clock of the subprocess is the real one: the frozen day is long over) and says how many."""
    import os
    import subprocess
    import sys

    clock.freeze(DAY)
    api.issue("A")
    api.issue("B")
    env = {
        **os.environ,
        "WINS_DATABASE_URL": settings.database_url,
        "WINS_DATA_DIR": str(settings.data_dir),
        "WINS_LOG_LEVEL": "WARNING",
    }
    run = [sys.executable, "-m", "wins.cli", "expire-day"]
    first = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "2 open tickets of ended business days expired."
    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert again.stdout.strip() == "0 open tickets of ended business days expired."
    assert len(_events(settings, "ticket.expired")) == 2
