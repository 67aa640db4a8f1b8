"""Audit entries are written by the service that makes the change: one entry per change whichever way in (REST API,
staff pages, or a direct call with an actor), none for the system's own changes (CLI, seeding)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.conftest import Api
from wins.audit.models import AuditEntry
from wins.auth import Principal
from wins.config import Settings
from wins.counters import service as counters
from wins.db import Database
from wins.services import service as services
from wins.staff.service import get_user


def _entries(settings: Settings) -> list[tuple[str, int | None, dict[str, Any]]]:
    db = Database(settings)
    try:
        with db.session(write=False) as session:
            rows = session.execute(
                select(AuditEntry.action, AuditEntry.staff_id, AuditEntry.details).order_by(AuditEntry.id)
            )
            return [(action, staff_id, dict(details)) for action, staff_id, details in rows]
    finally:
        db.dispose()


def test_each_api_change_writes_exactly_one_entry(api: Api, settings: Settings) -> None:
    manager, admin = api.data.users["manager"], api.data.users["admin"]
    before = len(_entries(settings))
    created = api.post("/api/v1/services", "manager", {"name": "Parcels", "prefix": "P"}, expect=201)
    counter = api.data.counters["1"]
    api.http.patch(f"/api/v1/counters/{counter}", json={"name": "One", "active": True}, headers=api.auth("manager"))
    devices = api.get("/api/v1/devices")
    display = next(d["id"] for d in devices if d["kind"] == "display")
    api.post(f"/api/v1/devices/{display}/revoke", "admin")
    assert _entries(settings)[before:] == [
        ("service.create", manager, {"service_id": created["id"]}),
        ("counter.update", manager, {"counter_id": counter, "fields": ["active", "name"]}),
        ("device.revoke", admin, {"device_id": display}),
    ]


def test_the_service_audits_a_change_made_by_someone_and_not_the_systems_own(api: Api, settings: Settings) -> None:
    db = Database(settings)
    try:
        before = len(_entries(settings))
        with db.session() as session:
            manager = Principal(staff=get_user(session, api.data.users["manager"]))
            service = services.create_service(session, values={"name": "Visas", "prefix": "V"}, actor=manager)
            counters.close_counter(session, api.data.counters["2"], actor=None)  # e.g. the CLI: nobody to name
        assert _entries(settings)[before:] == [
            ("service.create", api.data.users["manager"], {"service_id": service.id})
        ]
    finally:
        db.dispose()
