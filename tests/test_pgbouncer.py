"""WINS behind a real transaction-pooling PgBouncer (Debian 12's 1.18, which keeps no prepared statements per
client), the way a chain runs many workers on one PostgreSQL (docs/deployment.md, "PostgreSQL at scale"): requests
and the issue express lane through PgBouncer, the LISTEN and the running-server lock straight to PostgreSQL
(WINS_DATABASE_LISTEN_URL). PgBouncer gets two server connections, so clients really share them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.support.pgbouncer import pgbouncer, through
from tests.support.rest import Rest
from tests.support.seed import Seeded
from wins.app import create_app
from wins.config import Settings
from wins.ops import doctor
from wins.ops.presence import ServerRunning, announce_server, exclusive_use

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend() -> str:
    return "postgres"


@pytest.fixture
def bouncer(database_url: str) -> Iterator[int]:
    """PgBouncer's port; stopped before the test database is dropped (it depends on database_url)."""
    with pgbouncer(pool_size=2) as port:
        yield port


def behind(settings: Settings, port: int, **changes: Any) -> Settings:
    """`settings` with the database reached through PgBouncer and the session URL straight to PostgreSQL."""
    direct = settings.database_url
    return settings.model_copy(update={"database_url": through(direct, port), "database_listen_url": direct, **changes})


def test_prepared_statements_follow_the_setting() -> None:
    def threshold(**values: Any) -> int | None:
        return Settings.model_validate({"database_url": "postgresql://h/db", **values}).prepare_threshold

    assert threshold() == 5  # straight to PostgreSQL: psycopg's default
    assert threshold(database_listen_url="postgresql://db:5432/db") is None  # a pooler is in between
    assert threshold(database_listen_url="postgresql://db:5432/db", database_prepared_statements="on") == 5
    assert threshold(database_prepared_statements="off") is None
    with pytest.raises(ValueError, match="database_prepared_statements"):
        threshold(database_prepared_statements="sometimes")


def test_a_site_behind_pgbouncer_serves_concurrent_taps_calls_and_screens(
    settings: Settings, seeded: Seeded, bouncer: int
) -> None:
    site = behind(settings, bouncer)
    with TestClient(create_app(site)) as client:
        rest = Rest(client, seeded)
        start = rest.last_event_id()

        def tap(i: int) -> Any:
            headers = rest.auth("kiosk")
            if i % 2:  # keyed taps and bare ones: the express lane and the route, on shared server connections
                headers["Idempotency-Key"] = uuid.uuid4().hex
            return client.post("/api/v1/tickets", json={"service_id": seeded.services["A"]}, headers=headers)

        def look(_: int) -> Any:
            return client.get("/api/v1/queue", headers=rest.auth("manager"))

        with ThreadPoolExecutor(16) as pool:
            taps = list(pool.map(tap, range(120)))
            looks = list(pool.map(look, range(30)))
        assert [r.text for r in taps if r.status_code != 201] == []
        assert [r.text for r in looks if r.status_code != 200] == []

        def calls(counter: str, who: str) -> list[int]:
            return [rest.call_next(counter, who)["id"] for _ in range(10)]

        with ThreadPoolExecutor(2) as pool:
            called = [*pool.map(calls, ["1", "2"], ["staff", "staff2"])]
        assert len({*called[0], *called[1]}) == 20  # nobody called twice

        # The screens' stream (its LISTEN straight to PostgreSQL) saw every ticket once, in order.
        batch = rest.get(f"/api/v1/events?since={start}&timeout=0&limit=1000", "display")
        issued = [e["data"]["id"] for e in batch["events"] if e["type"] == "ticket.issued"]
        assert sorted(issued) == sorted(r.json()["id"] for r in taps) and len(set(issued)) == 120
        ids = [e["id"] for e in batch["events"]]
        assert ids == sorted(ids)

    with psycopg.connect(settings.database_url) as conn:
        numbers = conn.execute("SELECT count(*), count(DISTINCT number) FROM tickets").fetchone()
    assert numbers == (120, 120)


def test_restore_sees_a_server_running_behind_pgbouncer_and_not_once_it_stopped(
    settings: Settings, bouncer: int
) -> None:
    """The running-server lock is a session lock: behind PgBouncer it would stay on a shared server connection,
    and `wins restore` would refuse forever (or never)."""
    site = behind(settings, bouncer)
    presence = announce_server(site)
    with pytest.raises(ServerRunning), exclusive_use(site):
        pass
    presence.release()
    with exclusive_use(site):
        pass


def test_doctor_checks_the_event_path_the_server_uses(settings: Settings, bouncer: int) -> None:
    """NOTIFY through PgBouncer, LISTEN straight to PostgreSQL: heard. Without the session URL, the LISTEN goes
    through PgBouncer and hears nothing: doctor says what to set."""
    findings: list[doctor.Finding] = []

    def stream() -> doctor.Finding:
        return next(f for f in findings if f.check == "event stream")

    doctor.run(behind(settings, bouncer), findings.append)
    assert stream().ok, stream().line()
    findings.clear()
    doctor.run(behind(settings, bouncer, database_listen_url=""), findings.append)
    assert not stream().ok and "WINS_DATABASE_LISTEN_URL" in stream().advice, stream().line()
