"""An Idempotency-Key belongs to whoever sent it (issue 11: a second kiosk sending the same key got the first
kiosk's ticket and tracking token). Through the express lane, the route and the service, on both databases."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.conftest import Api
from wins import migrate
from wins.auth import Principal
from wins.db import Database
from wins.devices.models import Device
from wins.staff.models import StaffUser
from wins.tickets import express, issuing


def _second_kiosk(api: Api) -> dict[str, str]:
    r = api.client.post("/api/v1/devices", json={"name": "kiosk 2", "kind": "kiosk"}, headers=api.auth("admin"))
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _tap(api: Api, headers: dict[str, str], key: str, *, padded: bool = False) -> Any:
    body = b'{"service_id": %d}' % api.data.services["A"]
    if padded:
        # Past the express lane's body limit (lowered for this request: the app refuses bodies over the real
        # one before the lane runs): only the documented route takes it.
        body += b" " * 100
    with pytest.MonkeyPatch.context() as patch:
        if padded:
            patch.setattr(express, "MAX_BODY", 64)
        return api.client.post(
            "/api/v1/tickets",
            content=body,
            headers={**headers, "Content-Type": "application/json", "Idempotency-Key": key},
        )


def test_two_kiosks_with_one_key_get_their_own_tickets(api: Api) -> None:
    key = str(uuid.uuid4())
    first = _tap(api, api.auth("kiosk"), key)
    other = _tap(api, _second_kiosk(api), key)
    staff = _tap(api, api.auth("staff"), key)
    assert (first.status_code, other.status_code, staff.status_code) == (201, 201, 201)
    ids = {r.json()["id"] for r in (first, other, staff)}
    tokens = {r.json()["tracking_token"] for r in (first, other, staff)}
    assert len(ids) == 3 and len(tokens) == 3
    # Each sender's retry still returns its own first ticket.
    again = _tap(api, api.auth("kiosk"), key)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.json()["tracking_token"] == first.json()["tracking_token"]


def test_the_route_and_the_lane_scope_keys_alike(api: Api) -> None:
    second = _second_kiosk(api)
    key = str(uuid.uuid4())
    lane = _tap(api, api.auth("kiosk"), key)  # the express lane on SQLite
    route = _tap(api, second, key, padded=True)  # always the route
    assert (lane.status_code, route.status_code) == (201, 201)
    assert lane.json()["id"] != route.json()["id"]
    replay_by_route = _tap(api, api.auth("kiosk"), key, padded=True)
    replay_by_lane = _tap(api, second, key)
    assert (replay_by_route.status_code, replay_by_lane.status_code) == (200, 200)
    assert replay_by_route.json()["id"] == lane.json()["id"]
    assert replay_by_lane.json()["id"] == route.json()["id"]


def test_the_service_scopes_keys_in_a_session_transaction(api: Api) -> None:
    db: Database = api.client.app.state.db  # type: ignore[attr-defined]
    _second_kiosk(api)
    key = str(uuid.uuid4())
    with db.session() as session:
        kiosks = session.query(Device).filter(Device.kind == "kiosk").order_by(Device.id).all()
        staff = session.get(StaffUser, api.data.users["staff"])
        issued = [
            issuing.issue(session, service_id=api.data.services["B"], actor=actor, idempotency_key=key)
            for actor in (Principal(device=kiosks[0]), Principal(device=kiosks[1]), Principal(staff=staff))
        ]
        repeat = issuing.issue(
            session, service_id=api.data.services["B"], actor=Principal(device=kiosks[1]), idempotency_key=key
        )
    assert all(i.created for i in issued) and len({i.ticket_id for i in issued}) == 3
    assert not repeat.created and repeat.ticket_id == issued[1].ticket_id


def test_the_migration_gives_existing_keys_their_senders_scope(api: Api, database_url: str) -> None:
    by_kiosk = api.issue("A")
    by_staff = api.issue("A", who="staff")
    api.client.app.state.db.dispose()  # type: ignore[attr-defined]
    config = migrate.alembic_config(database_url)
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        command.downgrade(config, "0005")
        with engine.begin() as conn:  # tickets issued with a key before the upgrade
            conn.execute(text("UPDATE tickets SET idempotency_key = 'retry-key-' || id"))
        command.upgrade(config, "head")
        with engine.connect() as conn:
            scopes: dict[int, str | None] = dict(conn.execute(text("SELECT id, idempotency_scope FROM tickets")).all())
            kiosk_id = conn.execute(text("SELECT id FROM devices WHERE name = 'kiosk'")).scalar_one()
    finally:
        engine.dispose()
    assert scopes == {by_kiosk["id"]: f"device:{kiosk_id}", by_staff["id"]: f"staff:{api.data.users['staff']}"}
    # A kiosk retrying across the upgrade still gets its ticket; another sender with that key does not.
    retry = _tap(api, api.auth("kiosk"), f"retry-key-{by_kiosk['id']}")
    assert retry.status_code == 200 and retry.json()["id"] == by_kiosk["id"]
    assert _tap(api, api.auth("staff"), f"retry-key-{by_kiosk['id']}").status_code == 201
