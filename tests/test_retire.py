"""Retiring services and counters, and "stop issuing" vs archiving (issue 13), over the REST API on SQLite and
PostgreSQL: never-used ones are deleted, used ones archived (hidden everywhere, kept in history), and nobody is
left waiting for a service nobody will call."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from tests.conftest import Api
from wins import migrate
from wins.audit.models import AuditEntry
from wins.config import Settings
from wins.db import Database


def _audit(settings: Settings, action: str) -> list[dict[str, Any]]:
    db = Database(settings)
    try:
        with db.session(write=False) as session:
            return [e.details for e in session.scalars(select(AuditEntry).where(AuditEntry.action == action))]
    finally:
        db.dispose()


def _service(api: Api, prefix: str, **query: str) -> dict[str, Any] | None:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    rows = api.get(f"/api/v1/services?{params}", "manager")
    return next((s for s in rows if s["prefix"] == prefix), None)


def test_a_never_used_service_is_deleted_a_used_one_is_not(api: Api, settings: Settings) -> None:
    c = api.data.services["C"]
    r = api.client.delete(f"/api/v1/services/{c}", headers=api.auth("manager"))
    assert r.status_code == 204, r.text
    assert _service(api, "C", include_archived="true") is None
    assert all(c not in counter["service_ids"] for counter in api.get("/api/v1/counters", "manager"))
    assert _audit(settings, "service.delete") == [{"service_id": c, "name": "Documents"}]

    api.issue("A")
    r = api.client.delete(f"/api/v1/services/{api.data.services['A']}", headers=api.auth("manager"))
    assert r.status_code == 409
    assert "Archive it instead" in r.json()["detail"]
    assert api.client.delete(f"/api/v1/services/{c}", headers=api.auth("staff")).status_code == 403


def test_stop_issuing_refuses_new_tickets_but_still_calls_the_waiting_ones(api: Api) -> None:
    a = api.data.services["A"]
    first = api.issue("A")
    api.client.patch(f"/api/v1/services/{a}", json={"active": False}, headers=api.auth("manager"))
    refused = api.issue("A", expect=409)
    assert "not taking tickets" in refused["detail"]
    listed = _service(api, "A")
    assert listed is not None and listed["active"] is False and listed["archived"] is False
    assert _service(api, "A", active_only="true") is None  # the kiosk's list: not issuing
    called = api.call_next("1")
    assert called is not None and called["id"] == first["id"]


def test_archiving_with_people_waiting_needs_a_choice(api: Api, settings: Settings) -> None:
    a, b = api.data.services["A"], api.data.services["B"]
    tickets = [api.issue("A"), api.issue("A", priority=True, who="staff")]
    r = api.client.post(f"/api/v1/services/{a}/archive", headers=api.auth("manager"))
    assert r.status_code == 409
    assert "2 tickets are still waiting" in r.json()["detail"]
    assert _service(api, "A")["archived"] is False  # type: ignore[index]
    # A target that does not take tickets is refused, and nothing moved.
    api.client.patch(f"/api/v1/services/{b}", json={"active": False}, headers=api.auth("manager"))
    body = {"waiting": "transfer", "to_service_id": b}
    r = api.client.post(f"/api/v1/services/{a}/archive", json=body, headers=api.auth("manager"))
    assert r.status_code == 409 and "not taking tickets" in r.json()["detail"]
    assert api.get(f"/api/v1/tickets/{tickets[0]['id']}", "staff")["service_id"] == a
    api.client.patch(f"/api/v1/services/{b}", json={"active": True}, headers=api.auth("manager"))

    r = api.client.post(f"/api/v1/services/{a}/archive", json=body, headers=api.auth("manager"))
    assert r.status_code == 200, r.text
    assert r.json()["archived"] is True and r.json()["active"] is False
    moved = [api.get(f"/api/v1/tickets/{t['id']}", "staff") for t in tickets]
    assert [(t["service_id"], t["status"], t["number"]) for t in moved] == [
        (b, "waiting", tickets[0]["number"]),
        (b, "waiting", tickets[1]["number"]),
    ]
    # Hidden everywhere: lists, the queue screens, the counters; refused at the kiosk; kept on request.
    assert _service(api, "A") is None
    assert _service(api, "A", include_archived="true")["archived"] is True  # type: ignore[index]
    assert a not in [s["id"] for s in api.queue()["services"]]
    assert all(a not in c["service_ids"] for c in api.get("/api/v1/counters", "manager"))
    api.issue("A", expect=409)
    assert _audit(settings, "service.archive") == [{"service_id": a, "waiting": 2, "moved_to": b}]
    # Counter 3 calls B: the moved tickets are called, the priority one first.
    assert api.call_next("3")["id"] == tickets[1]["id"]


def test_archiving_can_cancel_the_waiting_tickets_and_restore_comes_back_not_issuing(api: Api) -> None:
    a = api.data.services["A"]
    ticket = api.issue("A")
    r = api.client.post(f"/api/v1/services/{a}/archive", json={"waiting": "cancel"}, headers=api.auth("manager"))
    assert r.status_code == 200, r.text
    assert api.get(f"/api/v1/tickets/{ticket['id']}", "staff")["status"] == "cancelled"
    assert api.client.delete(f"/api/v1/services/{a}", headers=api.auth("manager")).status_code == 409
    r = api.client.post(f"/api/v1/services/{a}/restore", headers=api.auth("manager"))
    assert r.status_code == 200
    assert (r.json()["archived"], r.json()["active"]) == (False, False)
    bad = {"waiting": "transfer"}
    b = api.data.services["B"]
    api.issue("B")
    r = api.client.post(f"/api/v1/services/{b}/archive", json=bad, headers=api.auth("manager"))
    assert r.status_code == 422 and "to_service_id" in r.json()["detail"]


def test_counters_are_deleted_when_unused_and_archived_when_free(api: Api, settings: Settings) -> None:
    four = api.data.counters["4"]
    assert api.client.delete(f"/api/v1/counters/{four}", headers=api.auth("manager")).status_code == 204
    api.issue("A")
    called = api.call_next("1")
    one = api.data.counters["1"]
    r = api.client.delete(f"/api/v1/counters/{one}", headers=api.auth("manager"))
    assert r.status_code == 409 and "Archive it instead" in r.json()["detail"]
    r = api.client.post(f"/api/v1/counters/{one}/archive", headers=api.auth("manager"))
    assert r.status_code == 409 and called["number"] in r.json()["detail"]
    api.act(called["id"], "complete")
    r = api.client.post(f"/api/v1/counters/{one}/archive", headers=api.auth("manager"))
    assert r.status_code == 200, r.text
    assert r.json()["archived"] is True and r.json()["staff_id"] is None
    assert one not in [c["id"] for c in api.get("/api/v1/counters", "staff")]
    assert one in [c["id"] for c in api.get("/api/v1/counters?include_archived=true", "staff")]
    assert one not in [c["id"] for c in api.queue()["counters"]]
    r = api.client.post(f"/api/v1/counters/{one}/call-next", headers=api.auth("staff"))
    assert r.status_code == 409
    r = api.client.post(f"/api/v1/counters/{one}/restore", headers=api.auth("manager"))
    assert r.json()["archived"] is False and r.json()["active"] is False
    assert _audit(settings, "counter.archive") == [{"counter_id": one}]


def test_branches_api(api: Api, settings: Settings) -> None:
    listed = api.get("/api/v1/branches", "admin")
    assert [b["name"] for b in listed] == ["Test Branch"]
    api.get("/api/v1/branches", "manager", expect=403)
    body = {"name": "North", "timezone": "America/Toronto", "day_rollover_hour": 4, "languages": ["fr", "en"]}
    created = api.post("/api/v1/branches", "admin", body, expect=201)
    assert (created["timezone"], created["day_rollover_hour"]) == ("America/Toronto", 4)
    assert created["settings"]["kiosk_languages"] == ["fr", "en"]
    bad = api.post("/api/v1/branches", "admin", {**body, "timezone": "Mars/Base"}, expect=422)
    assert "Europe/Paris" in bad["detail"]
    api.post("/api/v1/branches", "manager", body, expect=403)
    r = api.client.patch(f"/api/v1/branches/{created['id']}", json={"name": "North 2"}, headers=api.auth("admin"))
    assert r.status_code == 200 and r.json()["name"] == "North 2"
    assert api.get("/api/v1/branch", "staff")["name"] == "Test Branch"  # the first branch, as before
    assert _audit(settings, "branch.create") == [{"branch_id": created["id"], "name": "North"}]
    r = api.client.patch("/api/v1/branches/999", json={"name": "x"}, headers=api.auth("admin"))
    assert r.status_code == 404


def test_0009_keeps_last_years_services_and_counters(database_url: str) -> None:
    from alembic import command

    engine = create_engine(database_url, poolclass=NullPool)
    try:
        command.downgrade(migrate.alembic_config(database_url), "0007")
        with engine.begin() as conn:
            branch = conn.execute(
                text(
                    "INSERT INTO branches (name, timezone, day_rollover_hour, settings, created_at)"
                    " VALUES ('B', 'UTC', 0, '{}', CURRENT_TIMESTAMP) RETURNING id"
                )
            ).scalar_one()
            for prefix, active in (("A", True), ("B", False)):
                conn.execute(
                    text(
                        "INSERT INTO services (branch_id, name, prefix, colour, active, priority_weight, sort_order,"
                        " created_at) VALUES (:b, :n, :n, '#000000', :a, 0, 0, CURRENT_TIMESTAMP)"
                    ),
                    {"b": branch, "n": prefix, "a": active},
                )
            conn.execute(
                text(
                    "INSERT INTO counters (branch_id, name, active, created_at)"
                    " VALUES (:b, '1', false, CURRENT_TIMESTAMP)"
                ),
                {"b": branch},
            )
        migrate.upgrade(database_url, "head")
        with engine.connect() as conn:
            services = conn.execute(text("SELECT prefix, active, archived_at FROM services ORDER BY prefix")).all()
            counters = conn.execute(text("SELECT name, active, archived_at FROM counters")).all()
    finally:
        engine.dispose()
    # Nothing is archived by the upgrade; a switched-off service now reads "not issuing".
    assert [(p, bool(a), at) for p, a, at in services] == [("A", True, None), ("B", False, None)]
    assert [(n, bool(a), at) for n, a, at in counters] == [("1", False, None)]
