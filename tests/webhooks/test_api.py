"""Registering webhook endpoints: admin only, addresses and event types checked, the secret shown once."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.webhooks.conftest import register


def test_admin_registers_lists_changes_and_deletes_an_endpoint(api: Api) -> None:
    created = register(api, "https://hooks.example.org/wins?site=1", ["ticket.called", "service.*"])
    assert len(created["secret"]) == 64 and created["state"] == "active"
    assert created["event_types"] == ["ticket.called", "service.*"]
    listed = api.get("/api/v1/webhooks")
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]  # shown once, in the creating answer only
    path = f"/api/v1/webhooks/{created['id']}"
    r = api.http.patch(path, json={"event_types": ["*"], "active": False}, headers=api.auth("admin"))
    assert r.status_code == 200 and r.json()["state"] == "off" and r.json()["event_types"] == ["*"]
    assert api.get(path)["event_types"] == ["*"]
    r = api.http.delete(path, headers=api.auth("admin"))
    assert r.status_code == 204
    api.get(path, expect=404)
    audit = [a for (a,) in _audit_actions(api)]
    assert audit[-3:] == ["webhook.created", "webhook.updated", "webhook.deleted"]


def _audit_actions(api: Api) -> list[tuple[str]]:
    from sqlalchemy import select

    from wins.audit.models import AuditEntry

    db = api.client.app.state.db  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        return [(a,) for a in session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.org/x", "http:// or https://"),
        ("https://user:pw@example.org/x", "user name or password"),
        ("https://example.org:0/x", "port 0"),
        ("https:///nohost", "host name"),
        ("https://example.org/x#frag", "#fragment"),
        ("javascript:alert(1)//x", "http:// or https://"),
    ],
)
def test_bad_addresses_are_refused_with_what_to_do(api: Api, url: str, words: str) -> None:
    r = api.http.post("/api/v1/webhooks", json={"url": url, "event_types": ["*"]}, headers=api.auth("admin"))
    assert r.status_code == 422, r.text
    assert words in r.json()["detail"]


@pytest.mark.parametrize("types", [["auth.ended"], ["ticket"], ["nope.*"], ["ticket.a.b"], [" "]])
def test_unknown_or_internal_event_types_are_refused(api: Api, types: list[str]) -> None:
    r = api.http.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "event_types": types}, headers=api.auth("admin")
    )
    assert r.status_code == 422, r.text


def test_only_admins_manage_webhooks(api: Api) -> None:
    body = {"url": "https://example.org/x", "event_types": ["*"]}
    for who in ("manager", "staff", "kiosk"):
        assert api.http.post("/api/v1/webhooks", json=body, headers=api.auth(who)).status_code == 403
        assert api.http.get("/api/v1/webhooks", headers=api.auth(who)).status_code == 403
    assert api.http.get("/api/v1/webhooks").status_code == 401
