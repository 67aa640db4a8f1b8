"""One lock order for every seat change (issue 15, wins.counters.locks): one person sitting down and calling next
at many counters at the same instant, through the services directly (no request retry to hide a deadlock), on
SQLite and PostgreSQL. No deadlock (40P01) or other database error, the person ends at exactly one counter, and
no ticket is called twice."""

from __future__ import annotations

import threading
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.support.seed import seed
from wins.app import create_app
from wins.auth import Principal, staff_principal
from wins.config import Settings
from wins.counters import seating
from wins.counters.models import Counter
from wins.db import Database
from wins.staff.models import StaffUser
from wins.tickets.calling import call_next
from wins.tickets.models import IS_HELD, Ticket

COUNTERS = 8
ROUNDS = 4  # each counter is pressed this many times, all at once


def _principal(db: Database, staff_id: int) -> Principal:
    with db.session(write=False) as session:
        staff = session.get(StaffUser, staff_id)
        assert staff is not None
        session.expunge(staff)
        principal = staff_principal(session, staff)
    return replace(principal, branch_id=principal.branch_ids[0])


def test_one_person_at_many_counters_at_once_never_deadlocks(settings: Settings, tmp_path: Path) -> None:
    data = seed(settings, counters=COUNTERS)
    with TestClient(create_app(settings)) as client:
        kiosk = {"Authorization": f"Bearer {data.tokens['kiosk']}"}
        for i in range(COUNTERS * ROUNDS):
            service = list(data.services.values())[i % 3]
            assert client.post("/api/v1/tickets", json={"service_id": service}, headers=kiosk).status_code == 201
    db = Database(settings)
    try:
        actor = _principal(db, data.users["staff"])
        jobs = [(n, counter_id) for n in range(ROUNDS) for counter_id in data.counters.values()]
        start = threading.Barrier(len(jobs))
        errors: list[BaseException] = []
        called: list[int] = []
        lock = threading.Lock()

        def press(job: tuple[int, int]) -> None:
            n, counter_id = job
            start.wait()
            try:
                with db.session() as session:
                    if n % 2:  # sit down, finishing what the person leaves behind
                        seating.open_counter(
                            session, counter_id=counter_id, actor=actor, choice=seating.HeldChoice("complete")
                        )
                        return
                    ticket = call_next(
                        session, counter_id=counter_id, actor=actor, choice=seating.HeldChoice("complete")
                    )
                    if ticket is not None:
                        with lock:
                            called.append(ticket.id)
            except BaseException as exc:  # every failure is reported, a deadlock (40P01) above all
                with lock:
                    errors.append(exc)

        with ThreadPoolExecutor(len(jobs)) as pool:
            list(pool.map(press, jobs))
        assert not errors, [repr(e) for e in errors]
        assert called, "nobody was called"
        assert not [t for t, n in Tally(called).items() if n > 1], "a ticket was called twice"

        with db.session(write=False) as session:
            seats = session.scalars(select(Counter.id).where(Counter.staff_id == data.users["staff"])).all()
            assert len(seats) == 1, seats  # one person, one counter
            held = session.scalars(select(Ticket).where(IS_HELD)).all()
            assert len(held) <= 1 and all(t.counter_id == seats[0] for t in held)
            assert session.scalar(select(func.max(Ticket.call_count))) == 1
            assert session.scalar(select(func.count()).select_from(Ticket).where(Ticket.call_count == 1)) == len(called)
    finally:
        db.dispose()
