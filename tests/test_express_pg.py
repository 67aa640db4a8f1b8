"""The issue express lane on PostgreSQL (wins.tickets.issuing.issue_on_loop_pg on Database.loop_pool): it really
serves taps itself, writes what the route writes, keeps numbers, queue counts and the event stream right under
concurrent taps, and never issues a second ticket when its connection fails."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, literal, select

from tests.conftest import Api
from tests.support.seed import seed
from wins import db_flags
from wins.app import create_app
from wins.config import Settings
from wins.db import Database, LoopPool, LoopTransaction
from wins.events.models import Event
from wins.tickets.issue_statements import _number_digits, ticket_number
from wins.tickets.models import Ticket, TicketSequence
from wins.tickets.views import ticket_event_data

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend() -> str:
    """PostgreSQL only: tests/conftest.py's settings, seeded site and api, on PostgreSQL."""
    return "postgres"


def tap(api: Api, service_id: int, *, key: str | None = None, keyed: bool = True) -> Any:
    headers = {**api.auth("kiosk")}
    if keyed:
        headers["Idempotency-Key"] = key or uuid.uuid4().hex
    return api.client.post("/api/v1/tickets", json={"service_id": service_id}, headers=headers)


def app_db(api: Api) -> Database:
    db: Database = api.client.app.state.db  # type: ignore[attr-defined]
    return db


def _admin(settings: Settings) -> psycopg.Connection[Any]:
    return psycopg.connect(settings.database_url, autocommit=True)


def test_the_numbers_digits_are_the_same_in_sql_and_python(settings: Settings) -> None:
    db = Database(settings)
    try:
        seqs = [1, 9, 10, 99, 100, 999, 1000, 9999, 123456]
        with db.session(write=False) as session:
            sql = [session.execute(select(literal("A") + _number_digits(literal(n)))).scalar() for n in seqs]
        assert (
            sql
            == [ticket_number("A", n) for n in seqs]
            == [
                "A001",
                "A009",
                "A010",
                "A099",
                "A100",
                "A999",
                "A1000",
                "A9999",
                "A123456",
            ]
        )
    finally:
        db.dispose()


def test_the_lane_serves_taps_itself_in_one_statement(api: Api, lane: list[Any]) -> None:
    db = app_db(api)
    assert db.loop_pool is not None
    through_route: list[str] = []
    event.listen(db.write_engine, "before_cursor_execute", lambda *a: through_route.append(a[2]))
    committed: list[bool] = []
    # First among the hooks: the hub's hook, after it, takes the note.
    db.after_commit_hooks.insert(
        0, lambda tx: committed.append(db_flags.events_written(tx)) if isinstance(tx, LoopTransaction) else None
    )
    sent: list[str] = []
    fetchone = db.loop_pool.fetchone

    async def counted(statement: Any, values: dict[str, Any]) -> Any:
        sent.append(statement.sql)
        return await fetchone(statement, values)

    db.loop_pool.fetchone = counted  # type: ignore[method-assign]
    answers = [tap(api, api.data.services["A"]) for _ in range(3)]
    answers.append(tap(api, api.data.services["A"], keyed=False))
    assert [r.status_code for r in answers] == [201] * 4
    assert lane == [(201, r.content) for r in answers]  # every answer is the lane's own
    assert [r.json()["number"] for r in answers] == ["A001", "A002", "A003", "A004"]
    assert len(sent) == 4 and all(sql.startswith("WITH prior") for sql in sent)  # one statement per tap
    # The route's engine (shared with the background followers) wrote no ticket, event or number.
    assert not [s for s in through_route if any(t in s for t in ("WITH prior", "tickets (", "events (", "ticket_seq"))]
    assert db.loop_pool.connects == 1
    assert committed == [True] * 4  # the after-commit hooks ran for each tap, noting its event
    # What the lane wrote is what the route writes: the row, and an event whose data is ticket_payload of it.
    route = api.client.post("/api/v1/tickets", json={"service_id": api.data.services["A"]}, headers=api.auth("staff"))
    assert route.status_code == 201 and lane[-1] is None  # a staff tap: the route (its audit entry)
    with db.session(write=False) as session:
        events = session.scalars(select(Event).where(Event.type == "ticket.issued").order_by(Event.id)).all()
        tickets = {t.id: t for t in session.scalars(select(Ticket))}
        assert [e.data["id"] for e in events] == [r.json()["id"] for r in [*answers, route]]
        for e in events:
            assert list(e.data.items()) == list(ticket_event_data(session, tickets[e.data["id"]]).items())
        assert tickets[answers[0].json()["id"]].channel == "kiosk" and tickets[route.json()["id"]].channel == "staff"


def test_an_odd_service_name_is_spliced_into_the_event_exactly(api: Api, lane: list[Any]) -> None:
    # The event's data is serialised in Python around the id and the number's digits, which the statement fills.
    name = 'Quote "and" \\ back, Ünïcode ✓ ½'
    service = api.client.post("/api/v1/services", json={"name": name, "prefix": "LN"}, headers=api.auth("manager"))
    assert service.status_code == 201, service.text
    r = tap(api, service.json()["id"])
    assert r.status_code == 201 and lane == [(201, r.content)]
    assert r.json()["number"] == "LN001" and r.json()["service_name"] == name
    db = app_db(api)
    with db.session(write=False) as session:
        stored = session.scalars(select(Event).order_by(Event.id.desc()).limit(1)).one()
        ticket = session.get(Ticket, r.json()["id"])
        assert ticket is not None and ticket.number == "LN001"
        assert stored.data == ticket_event_data(session, ticket) and stored.data["service_name"] == name


def test_many_taps_at_once_keep_numbers_counts_and_the_stream_right(api: Api, lane: list[Any]) -> None:
    s = api.data.services
    start = api.client.get("/api/v1/events", params={"timeout": 0}, headers=api.auth("staff")).json()
    since = start["last_id"]
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    def follow() -> None:  # the event stream, read while the taps are being written
        last = since
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(seen) < 200:
            batch = api.client.get(
                "/api/v1/events", params={"since": last, "timeout": 2}, headers=api.auth("staff")
            ).json()
            seen.extend(batch["events"])
            last = batch["last_id"]
        done.set()

    reader = threading.Thread(target=follow)
    reader.start()
    services = [s["A"]] * 80 + [s["B"]] * 60 + [s["C"]] * 60
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda service_id: tap(api, service_id), services))
    reader.join(timeout=90)
    assert done.is_set()
    assert [r.status_code for r in answers] == [201] * 200
    assert sum(1 for a in lane if a is not None) == 200  # all served by the lane, 16 at a time
    by_service: dict[int, list[int]] = {}
    for r in answers:
        by_service.setdefault(r.json()["service_id"], []).append(int(r.json()["number"][1:]))
    assert {k: sorted(v) for k, v in by_service.items()} == {
        s["A"]: list(range(1, 81)),
        s["B"]: list(range(1, 61)),
        s["C"]: list(range(1, 61)),
    }
    ids = [e["id"] for e in seen]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # in order, each once
    assert sorted(e["data"]["id"] for e in seen if e["type"] == "ticket.issued") == sorted(
        r.json()["id"] for r in answers
    )
    db = app_db(api)
    with db.session(write=False) as session:
        counts = {row.service_id: (row.last_seq, row.waiting) for row in session.scalars(select(TicketSequence))}
        assert counts == {s["A"]: (80, 80), s["B"]: (60, 60), s["C"]: (60, 60)}
        per_ticket = session.execute(
            select(func.count()).select_from(Event).where(Event.type == "ticket.issued")
        ).scalar()
        assert per_ticket == 200
    # Within a service, numbers follow the order of the events (the number is drawn under the row's lock,
    # the event's id in the same statement).
    for service_id in (s["A"], s["B"]):
        numbers = [e["data"]["number"] for e in seen if e["data"].get("service_id") == service_id]
        assert numbers == sorted(numbers)


def test_one_key_sent_many_times_at_once_makes_one_ticket(api: Api, lane: list[Any]) -> None:
    service = api.data.services["B"]
    assert tap(api, service).status_code == 201  # the token and the caches are warm
    key = uuid.uuid4().hex
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: tap(api, service, key=key), range(16)))
    assert sorted(r.status_code for r in answers) == [200] * 15 + [201]
    assert len({r.json()["id"] for r in answers}) == 1 and answers[0].json()["number"] == "B002"
    assert lane.count(None) == 15  # the replays and the losers of the race: the route answered them
    db = app_db(api)
    with db.session(write=False) as session:
        assert session.execute(select(func.count()).select_from(Ticket)).scalar() == 2
        row = session.scalars(select(TicketSequence).where(TicketSequence.service_id == service)).one()
        assert (row.last_seq, row.waiting) == (2, 2)  # the losers' numbers were rolled back with them


def test_no_connection_hands_the_tap_to_the_route(api: Api, lane: list[Any]) -> None:
    db = app_db(api)
    db.loop_pool = LoopPool("postgresql+psycopg://postgres@127.0.0.1:1/nowhere", size=2)
    r = tap(api, api.data.services["A"], keyed=False)
    assert r.status_code == 201 and r.json()["number"] == "A001"
    assert lane == [None]


def _wait_for(conn: psycopg.Connection[Any], query: str, *args: Any) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        row = conn.execute(query, args).fetchone()
        if row is not None:
            return row[0]
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for: {query}")


_LANE_WAITING = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
    "AND query LIKE 'WITH prior%%' AND state = 'active'"
)


@pytest.mark.parametrize("keyed", [False, True])
def test_a_connection_lost_mid_statement_never_makes_a_second_ticket(
    api: Api, settings: Settings, lane: list[Any], keyed: bool
) -> None:
    service = api.data.services["A"]
    assert tap(api, service).status_code == 201  # A001; the pool has its connection
    with _admin(settings) as admin, _admin(settings) as holder, ThreadPoolExecutor(1) as pool:
        holder.execute("BEGIN")
        holder.execute("SELECT 1 FROM ticket_sequences WHERE service_id = %s FOR UPDATE", (service,))
        try:
            pending = pool.submit(tap, api, service, keyed=keyed)
            pid = _wait_for(admin, _LANE_WAITING)  # the lane's statement waits for the row
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            if keyed:  # the route takes it over, and waits for the row in turn
                _wait_for(admin, _LANE_WAITING.replace("AND query", "AND pid <> %s AND query"), pid)
            else:
                pending.result(timeout=20)
        finally:
            holder.execute("ROLLBACK")
        r = pending.result(timeout=30)
    db = app_db(api)
    with db.session(write=False) as session:
        numbers = sorted(session.scalars(select(Ticket.number)))
    if keyed:
        # The outcome was unknown; the key let the route find out (nothing committed) and issue it, once.
        assert r.status_code == 201 and r.json()["number"] == "A002" and lane[-1] is None
        assert numbers == ["A001", "A002"]
    else:
        # Nothing can tell later whether it committed: the answer of an unreachable database, as the route's.
        assert r.status_code == 503 and r.json() == {
            "detail": "The database is busy or unreachable; try again in a moment.",
            "code": "database_unavailable",
        }
        assert lane[-1] == (503, r.content)
        assert numbers == ["A001"]  # it had not committed: the customer taps again and gets A002


def test_a_connection_the_server_closed_while_idle_is_replaced(api: Api, settings: Settings, lane: list[Any]) -> None:
    service = api.data.services["C"]
    assert tap(api, service, keyed=False).status_code == 201
    db = app_db(api)
    assert db.loop_pool is not None and db.loop_pool.connects == 1
    with _admin(settings) as admin:
        pid = _wait_for(
            admin,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'WITH prior%%' "
            "AND state = 'idle'",
        )
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        _wait_for(admin, "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)", pid)
    r = tap(api, service, keyed=False)  # no key: a lost statement would have to answer 503
    assert r.status_code == 201 and r.json()["number"] == "C002"
    assert lane[-1] == (201, r.content) and db.loop_pool.connects == 2


def test_shutdown_closes_the_lanes_connections(settings: Settings) -> None:
    data = seed(settings)
    app = create_app(settings)
    with TestClient(app) as client:
        r = client.post(
            "/api/v1/tickets",
            json={"service_id": data.services["A"]},
            headers={"Authorization": f"Bearer {data.tokens['kiosk']}"},
        )
        assert r.status_code == 201
        pool = app.state.db.loop_pool
        assert pool.connects == 1 and len(pool._idle) == 1
        conn = pool._idle[0]
    assert conn.closed and pool._idle == []


def test_no_lane_connections_when_turned_off(settings: Settings) -> None:
    settings = settings.model_copy(update={"database_issue_connections": 0})
    data = seed(settings)
    with TestClient(create_app(settings)) as client:
        assert client.app.state.db.loop_pool is None  # type: ignore[attr-defined]
        r = client.post(
            "/api/v1/tickets",
            json={"service_id": data.services["A"]},
            headers={"Authorization": f"Bearer {data.tokens['kiosk']}"},
        )
        assert r.status_code == 201 and r.json()["number"] == "A001"
