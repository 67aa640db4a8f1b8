"""The counter workspace's server side (issue 16) through the REST API, on SQLite and PostgreSQL: whom call-next
takes (and the snapshot's "next" marker agreeing), undo, counter pauses, named priority categories, the reception
role, wait targets and the shortcuts preference."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from tests.conftest import Api
from wins import clock, migrate
from wins.branches.service import get_branch
from wins.db import Database
from wins.events.models import Event
from wins.reports.desk import category_counts, paused_time
from wins.tickets.caches import service_load

CATEGORIES = [
    {"key": "elderly", "label": {"en": "Over 75", "fr": "Plus de 75 ans"}, "weight": 5},
    {"key": "urgent", "label": "Urgent", "weight": 10, "on_kiosk": False},
]


def _counter(api: Api, name: str) -> dict[str, Any]:
    return next(c for c in api.queue()["counters"] if c["name"] == name)


def _set_categories(api: Api) -> None:
    api.client.patch(
        "/api/v1/branch", json={"settings": {"priority_categories": CATEGORIES}}, headers=api.auth("manager")
    ).raise_for_status()


def _events(api: Api, kind: str) -> list[dict[str, Any]]:
    db: Database = api.client.app.state.db  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        return [e.data for e in session.scalars(select(Event).where(Event.type == kind).order_by(Event.id))]


# -- whom call-next takes ------------------------------------------------------------------------------


def test_next_marker_is_the_ticket_call_next_takes(api: Api) -> None:
    # Counter 1 calls A, then B. A plain A ticket waits longer, but a priority ticket in B (the counter's second
    # service group) goes first: the snapshot says so before the call, and call-next agrees.
    first_a = api.issue("A")
    priority_b = api.issue("B", who="staff", priority=True)
    assert _counter(api, "1")["next_ticket_id"] == priority_b["id"]
    assert _counter(api, "3")["next_ticket_id"] == priority_b["id"]  # counter 3: B then A
    called = api.call_next("1")
    assert called is not None and called["id"] == priority_b["id"]
    assert _counter(api, "1")["next_ticket_id"] == first_a["id"]
    api.call_next("1")
    assert _counter(api, "1")["next_ticket_id"] is None


def test_category_weight_orders_calling_and_is_reported(api: Api) -> None:
    _set_categories(api)
    plain = api.issue("A")
    elderly = api.issue("A", who="staff", priority_category="elderly")
    urgent = api.issue("A", who="reception", priority_category="urgent")
    assert elderly["priority"] is True and elderly["priority_category"] == "elderly"
    queue = api.queue()
    listed = next(s for s in queue["services"] if s["prefix"] == "A")["tickets"]
    assert [t["number"] for t in listed] == [urgent["number"], elderly["number"], plain["number"]]
    assert listed[1]["priority_label"] == "Over 75"
    assert _counter(api, "2")["next_ticket_id"] == urgent["id"]
    order = [api.call_next("2")["id"] for _ in range(3)]
    assert order == [urgent["id"], elderly["id"], plain["id"]]
    # call-next finished each ticket before taking the next: both category tickets are done.

    db: Database = api.client.app.state.db  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        branch = get_branch(session)
        day = clock.business_day(clock.utcnow(), timezone=branch.timezone, rollover_hour=branch.day_rollover_hour)
        rows = category_counts(session, branch, day, day)
    assert [(r.key, r.label, r.issued, r.done) for r in rows] == [
        ("elderly", "Over 75", 1, 1),
        ("urgent", "Urgent", 1, 1),
    ]


def test_categories_are_checked(api: Api) -> None:
    _set_categories(api)
    r = api.client.post(
        "/api/v1/tickets", json={"service_id": api.data.services["A"], "priority_category": "vip"},
        headers=api.auth("staff"),
    )  # fmt: skip
    assert r.status_code == 422 and "Unknown priority category 'vip'" in r.json()["detail"]
    assert "elderly, urgent" in r.json()["detail"]
    # A kiosk may give no category unless its configuration allows priority, and never a staff-only one.
    r = api.client.post(
        "/api/v1/tickets", json={"service_id": api.data.services["A"], "priority_category": "elderly"},
        headers=api.auth("kiosk"),
    )  # fmt: skip
    assert r.status_code == 422


# -- undo ----------------------------------------------------------------------------------------------


def test_undo_puts_back_done_no_show_requeue_and_transfer(api: Api) -> None:
    clock.freeze(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    ticket = api.issue("A")
    api.call_next("1")
    api.act(ticket["id"], "start")
    for action, expected in (("complete", "serving"), ("requeue", "serving")):
        api.act(ticket["id"], action)
        clock.advance(timedelta(seconds=3))
        back = api.post(f"/api/v1/tickets/{ticket['id']}/undo")
        assert back["status"] == expected and back["counter_name"] == "1"
        assert _counter(api, "1")["ticket"]["id"] == ticket["id"]
    api.act(ticket["id"], "requeue")
    api.call_next("1")
    api.act(ticket["id"], "no-show")
    back = api.post(f"/api/v1/tickets/{ticket['id']}/undo")
    assert back["status"] == "called" and back["finished_at"] is None
    r = api.post(f"/api/v1/tickets/{ticket['id']}/transfer", json={"service_id": api.data.services["C"]})
    assert r["status"] == "waiting" and r["service_name"] == "Documents"
    back = api.post(f"/api/v1/tickets/{ticket['id']}/undo")
    assert back["status"] == "called" and back["service_name"] == "General" and back["counter_name"] == "1"
    # Displays and phones follow: every undo is an event carrying the restored state.
    assert [e["status"] for e in _events(api, "ticket.restored")] == ["serving", "serving", "called", "called"]
    # One undo per action: the undo itself cannot be undone.
    again = api.post(f"/api/v1/tickets/{ticket['id']}/undo", expect=409)
    assert "nothing to undo" in again["detail"]


def test_undo_is_refused_late_by_someone_else_or_after_a_change(api: Api) -> None:
    clock.freeze(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    ticket = api.issue("A")
    api.call_next("1")
    api.act(ticket["id"], "no-show")
    clock.advance(timedelta(seconds=11))  # WINS_UNDO_SECONDS is 10 by default
    late = api.post(f"/api/v1/tickets/{ticket['id']}/undo", expect=409)
    assert "Too late to undo" in late["detail"]

    other = api.issue("A")
    api.call_next("1")
    api.act(other["id"], "complete")
    assert "someone else" in api.post(f"/api/v1/tickets/{other['id']}/undo", who="staff2", expect=409)["detail"]

    third = api.issue("A")
    api.call_next("1")
    api.act(third["id"], "requeue")
    api.call_next("2", who="staff2")  # someone else calls it meanwhile
    refused = api.post(f"/api/v1/tickets/{third['id']}/undo", expect=409)
    assert "someone else" in refused["detail"]

    # The counter took the next customer since: undoing Done would seat two tickets at one counter.
    fourth, fifth = api.issue("B"), api.issue("B")
    api.call_next("3")
    api.act(fourth["id"], "complete")
    api.call_next("3")
    assert api.queue()["counters"][2]["ticket"]["id"] == fifth["id"]
    busy = api.post(f"/api/v1/tickets/{fourth['id']}/undo", expect=409)
    assert "holds ticket" in busy["detail"] and fifth["number"] in busy["detail"]


# -- pause ---------------------------------------------------------------------------------------------


def test_a_paused_counter_takes_nobody_and_its_time_is_counted(api: Api) -> None:
    clock.freeze(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    counter_id = api.data.counters["1"]
    api.post(f"/api/v1/counters/{counter_id}/open")
    api.issue("A")
    db: Database = api.client.app.state.db  # type: ignore[attr-defined]
    settings = api.client.app.state.settings  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        assert service_load(session, api.data.services["A"], settings=settings).open_counters == 1

    paused = api.post(f"/api/v1/counters/{counter_id}/pause", json={"reason": "break"})
    assert paused["is_paused"] is True and paused["pause_reason"] == "break"
    refused = api.post(f"/api/v1/counters/{counter_id}/call-next", expect=409)
    assert refused["detail"] == "Counter 1 is paused (break). Resume it to call customers."
    assert _counter(api, "1")["next_ticket_id"] is None
    clock.advance(timedelta(seconds=2))  # past the 1 s service cache
    with db.session(write=False) as session:
        assert service_load(session, api.data.services["A"], settings=settings).open_counters == 0
    # Only the person at the counter (or a manager) pauses or resumes it.
    api.post(f"/api/v1/counters/{counter_id}/resume", who="staff2", expect=403)
    api.post(f"/api/v1/counters/{counter_id}/pause", json={"reason": "other"}, expect=409)
    api.post(f"/api/v1/counters/{counter_id}/pause", json={"reason": "lunch"}, expect=422)

    clock.advance(timedelta(minutes=12))
    assert api.post(f"/api/v1/counters/{counter_id}/resume")["is_paused"] is False
    called = api.call_next("1")
    assert called is not None
    api.act(called["id"], "complete")
    api.post(f"/api/v1/counters/{counter_id}/pause", json={"reason": "paperwork"}, who="manager")
    clock.advance(timedelta(minutes=3))
    api.post(f"/api/v1/counters/{counter_id}/close")  # leaving the counter ends its pause
    assert _counter(api, "1")["is_paused"] is False

    with db.session(write=False) as session:
        branch = get_branch(session)
        day = clock.business_day(clock.utcnow(), timezone=branch.timezone, rollover_hour=branch.day_rollover_hour)
        rows = paused_time(session, branch, day, day)
    assert [(r.counter, r.reason, r.pauses, round(r.seconds)) for r in rows] == [
        ("1", "break", 1, 12 * 60 + 2),
        ("1", "paperwork", 1, 3 * 60),
    ]


# -- reception, wait targets, preferences -----------------------------------------------------------------


def test_reception_issues_and_reads_but_does_not_call(api: Api) -> None:
    ticket = api.issue("B", who="reception", priority=True)
    assert ticket["status"] == "waiting"
    assert api.queue("reception")["waiting_total"] == 1
    counter_id = api.data.counters["1"]
    for path in ("open", "call-next", "pause"):
        api.post(f"/api/v1/counters/{counter_id}/{path}", who="reception", json={"reason": "break"}, expect=403)
    api.post(f"/api/v1/tickets/{ticket['id']}/undo", who="reception", expect=403)
    assert api.get("/api/v1/auth/me", "reception")["role"] == "reception"


def test_wait_target_flags_the_service_once_the_oldest_wait_passes_it(api: Api) -> None:
    clock.freeze(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    service_id = api.data.services["A"]
    r = api.client.patch(
        f"/api/v1/services/{service_id}", json={"target_wait_minutes": 15}, headers=api.auth("manager")
    )
    assert r.status_code == 200 and r.json()["target_wait_minutes"] == 15
    api.issue("A")
    clock.advance(timedelta(minutes=14))
    row = next(s for s in api.queue()["services"] if s["id"] == service_id)
    assert row["over_target"] is False
    clock.advance(timedelta(minutes=2))
    row = next(s for s in api.queue()["services"] if s["id"] == service_id)
    assert row["over_target"] is True and row["target_wait_minutes"] == 15
    r = api.client.patch(
        f"/api/v1/services/{service_id}", json={"target_wait_minutes": None}, headers=api.auth("manager")
    )
    assert r.json()["target_wait_minutes"] is None
    assert next(s for s in api.queue()["services"] if s["id"] == service_id)["over_target"] is False


def test_shortcuts_preference_is_kept_per_account(api: Api) -> None:
    assert api.get("/api/v1/auth/me", "staff")["shortcuts_enabled"] is True
    r = api.client.put("/api/v1/auth/me/preferences", json={"shortcuts_enabled": False}, headers=api.auth("staff"))
    assert r.status_code == 200 and r.json()["shortcuts_enabled"] is False
    assert api.get("/api/v1/auth/me", "staff")["shortcuts_enabled"] is False
    assert api.get("/api/v1/auth/me", "staff2")["shortcuts_enabled"] is True


# -- migration 0008 on last year's data ---------------------------------------------------------------------


def test_0008_upgrades_a_database_with_data(database_url: str) -> None:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        command.downgrade(migrate.alembic_config(database_url), "0007")  # the test database starts at head
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
                    "INSERT INTO counters (branch_id, name, active, created_at)"
                    " VALUES (:b, '1', true, CURRENT_TIMESTAMP)"
                ),
                {"b": branch},
            )
            conn.execute(
                text(
                    "INSERT INTO staff_users (username, full_name, password_hash, role, active, token_version,"
                    " failed_logins, created_at) VALUES ('old', '', 'x', 'staff', true, 0, 0, CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO tickets (branch_id, service_id, issued_service_id, business_day, seq, number,"
                    " priority, status, tracking_token, issued_at, queue_at, call_count, transfer_count)"
                    " VALUES (:br, :s, :s, :d, 1, 'A001', true, 'waiting', 'tok-1', CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP, 0, 0)"
                ),
                {"br": branch, "s": service, "d": date(2025, 11, 28)},
            )
        migrate.upgrade(database_url, "head")
        with engine.connect() as conn:
            ticket = conn.execute(text("SELECT priority, priority_category FROM tickets")).one()
            counter = conn.execute(text("SELECT paused_at, pause_reason FROM counters")).one()
            target = conn.execute(text("SELECT target_wait_minutes FROM services")).scalar_one()
            shortcuts = conn.execute(text("SELECT shortcuts_enabled FROM staff_users")).scalar_one()
            pauses = conn.execute(text("SELECT COUNT(*) FROM counter_pauses")).scalar_one()
    finally:
        engine.dispose()
    assert bool(ticket[0]) is True and ticket[1] is None  # a boolean-priority ticket keeps its priority
    assert tuple(counter) == (None, None) and target is None and pauses == 0
    assert bool(shortcuts) is True
