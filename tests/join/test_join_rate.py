"""The per-client join limit lives in the database (SQLite and PostgreSQL): parallel joins from one address,
each in its own transaction as on separate workers or hosts, cannot slip past it; nothing stored reveals the
address; past hours are deleted as joins come."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.support.seed import Seeded
from wins import clock
from wins.config import Settings
from wins.db import Database
from wins.errors import TooManyAttempts
from wins.join.models import JoinRate
from wins.join.service import take_join

SECRET = "s" * 40


def _take(db: Database, client: str, *, branch_id: int = 1, limit: int = 3, now: datetime | None = None) -> bool:
    try:
        with db.session() as session:
            take_join(session, branch_id=branch_id, client=client, limit=limit, secret=SECRET, now=now)
    except TooManyAttempts:
        return False
    return True


def test_parallel_joins_from_one_address_stop_at_the_limit(settings: Settings, seeded: Seeded) -> None:
    del seeded  # the branch exists
    dbs = [Database(settings) for _ in range(4)]  # four "workers", each with its own engine and pool
    start = threading.Barrier(12)
    results: list[bool] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        start.wait()
        ok = _take(dbs[index % 4], "203.0.113.7")
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [False] * 9 + [True] * 3
    # Another address, and the same address in another branch, have their own allowance.
    assert _take(dbs[0], "203.0.113.8") and _take(dbs[1], "203.0.113.7", branch_id=2)
    with dbs[0].session(write=False) as session:
        stored = list(session.scalars(select(JoinRate)))
    assert {row.joins for row in stored} == {3, 1} and len(stored) == 3  # refused attempts were not counted
    assert not any("203.0.113" in row.key for row in stored)
    for db in dbs:
        db.dispose()


def test_past_hours_are_forgotten(settings: Settings, seeded: Seeded) -> None:
    del seeded
    db = Database(settings)
    earlier = clock.utcnow() - timedelta(hours=2)
    assert all(_take(db, f"198.51.100.{i}", now=earlier) for i in range(5))
    assert _take(db, "198.51.100.1", limit=1) and not _take(db, "198.51.100.1", limit=1)
    with db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(JoinRate)) == 1
    db.dispose()


@pytest.mark.parametrize("client", ["", "::1"])
def test_any_address_shape_is_counted(settings: Settings, seeded: Seeded, client: str) -> None:
    del seeded
    db = Database(settings)
    assert _take(db, client, limit=1) and not _take(db, client, limit=1)
    db.dispose()
