"""Each payload is declared once: what the event stream carries has exactly the fields of its response schema, and
a ticket issued on the fast path (Core statements, no ORM object) is described exactly as the ORM path describes
the same stored ticket."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tests.conftest import Api
from wins.db import Database
from wins.schemas import BranchPublic, CounterPublic, CounterTakenOver, ServicePublic, ServiceRemotePublic
from wins.tickets.models import Ticket
from wins.tickets.views import ticket_event_data


def _events(api: Api, since: int = 0) -> list[dict[str, Any]]:
    batch = api.get(f"/api/v1/events?since={since}&timeout=0", "display")
    return list(batch["events"])


def _fields(schema: type[BaseModel]) -> list[str]:
    return list(schema.model_fields)


def test_domain_events_carry_their_schemas_fields(api: Api) -> None:
    since = api.last_event_id()
    service_id = api.data.services["A"]
    api.http.patch(f"/api/v1/services/{service_id}", json={"colour": "#123456"}, headers=api.auth("manager"))
    api.http.patch("/api/v1/branch", json={"name": "Renamed"}, headers=api.auth("admin"))
    api.call_next("1")  # the counter gets its staff member: counter.updated
    api.post(f"/api/v1/counters/{api.data.counters['1']}/open", "staff2", json={"take_over": True})
    r = api.http.put(f"/api/v1/services/{service_id}/remote", json={"notify_ahead": 2}, headers=api.auth("manager"))
    assert r.status_code == 200, r.text
    by_type = {e["type"]: e["data"] for e in _events(api, since)}
    assert list(by_type["service.updated"]) == _fields(ServicePublic)
    assert list(by_type["branch.updated"]) == _fields(BranchPublic)
    assert list(by_type["counter.updated"]) == _fields(CounterPublic)
    assert list(by_type["counter.taken_over"]) == _fields(CounterTakenOver)
    assert by_type["service.remote_updated"] == {**r.json(), "notify_ahead": 2}
    assert list(by_type["service.remote_updated"]) == _fields(ServiceRemotePublic)


def test_the_issued_event_is_the_stored_tickets_payload(api: Api, backend: str) -> None:
    since = api.last_event_id()
    issued = [api.issue("A"), api.issue("B", who="staff", priority=True, language="fr")]
    events = [e for e in _events(api, since) if e["type"] == "ticket.issued"]
    db = Database(api.client.app.state.db.settings)  # type: ignore[attr-defined]
    try:
        with db.session(write=False) as session:
            for answer, event in zip(issued, events, strict=True):
                ticket = session.get(Ticket, answer["id"])
                assert ticket is not None
                assert event["data"] == ticket_event_data(session, ticket), backend
                # The issue answer starts with the same payload, then adds the wait and the private fields.
                assert {k: answer[k] for k in event["data"]} == event["data"]
    finally:
        db.dispose()
