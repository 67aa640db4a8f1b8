"""Remote join: the public page, the same issuing as the kiosk, the rotating key, the cap, the rate limit, and
each ticket's channel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Api
from tests.support.seed import Seeded
from tests.webhooks.conftest import page
from wins import clock
from wins.app import create_app
from wins.config import Settings
from wins.join import service as join
from wins.tickets.models import Ticket


@pytest.fixture
def japi(settings: Settings, seeded: Seeded) -> Iterator[Api]:
    with TestClient(create_app(settings.model_copy(update={"join_per_client_per_hour": 3}))) as client:
        yield Api(client, seeded)


def branch_settings(api: Api, **values: object) -> None:
    r = api.http.patch("/api/v1/branch", json={"settings": values}, headers=api.auth("manager"))
    assert r.status_code == 200, r.text


def channels(api: Api) -> dict[str, str]:
    db = api.client.app.state.db  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        return {t.number: t.channel for t in session.scalars(select(Ticket).order_by(Ticket.id))}


def test_a_phone_joins_through_the_kiosks_issuing_and_lands_on_its_ticket(japi: Api) -> None:
    japi.issue("A")  # kiosk
    japi.issue("A", who="staff")  # reception
    page = japi.client.get("/join")
    assert page.status_code == 200 and "Take a ticket for General" in page.text and "2 waiting" in page.text
    assert "content-security-policy" in page.headers
    r = japi.client.post(f"/join/{japi.data.services['A']}", data={"k": ""}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/t/")
    track = japi.client.get(r.headers["location"])
    assert track.status_code == 200 and "A003" in track.text
    assert channels(japi) == {"A001": "kiosk", "A002": "staff", "A003": "remote"}
    one = japi.client.get(f"/join/{japi.data.services['B']}")
    assert "Payments" in one.text and "General" not in one.text


def test_the_rotating_key_is_required_when_the_branch_asks(japi: Api, settings: Settings) -> None:
    branch_settings(japi, join_key_required=True)
    service = japi.data.services["B"]
    r = japi.client.post(f"/join/{service}", data={"k": "nope"}, follow_redirects=False)
    assert r.status_code == 403 and "Scan the QR code" in r.text
    link = japi.get("/api/v1/join/link", "display")
    assert link["key_required"] and "?k=" in link["url"] and link["expires_at"]
    assert japi.http.get("/api/v1/join/link", headers=japi.auth("kiosk")).status_code == 403
    qr = japi.http.get("/api/v1/join/qr.svg", headers=japi.auth("display"))
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    key = link["url"].split("?k=")[1]
    assert japi.client.post(f"/join/{service}", data={"k": key}, follow_redirects=False).status_code == 303
    # the key of the period before still works (a code scanned just before it changed); older ones do not
    minutes = settings.join_key_minutes
    later = clock.utcnow() + timedelta(minutes=minutes)
    secret = settings.effective_secret_key
    branch_id = 1
    assert join.join_key(secret, branch_id, minutes=minutes, now=later, back=1) == key
    assert join.join_key(secret, branch_id, minutes=minutes, now=later + timedelta(minutes=minutes), back=1) != key


def test_daily_cap_and_rate_limit(japi: Api) -> None:
    for prefix, cap in (("C", 1), ("B", 0)):
        path = f"/api/v1/services/{japi.data.services[prefix]}/remote"
        body = {"notify_ahead": 2, "remote_daily_cap": cap}
        assert japi.http.put(path, json=body, headers=japi.auth("staff")).status_code == 403
        r = japi.http.put(path, json=body, headers=japi.auth("manager"))
        assert r.status_code == 200 and r.json()["remote_daily_cap"] == cap, r.text
    assert japi.get(f"/api/v1/services/{japi.data.services['C']}/remote", "manager")["notify_ahead"] == 2
    c = japi.data.services["C"]
    assert japi.client.post(f"/join/{c}", follow_redirects=False).status_code == 303
    r = japi.client.post(f"/join/{c}", follow_redirects=False)
    assert r.status_code == 409 and "all its tickets for joining from a phone today" in r.text
    assert "Payments" not in japi.client.get("/join").text  # cap 0: not offered remotely
    a = japi.data.services["A"]
    assert [japi.client.post(f"/join/{a}", follow_redirects=False).status_code for _ in range(3)] == [303, 303, 429]
    status = japi.http.get(f"/api/v1/public/tickets/{_last_token(japi)}/push").json()
    assert status["notify_ahead"] == 3


def _last_token(api: Api) -> str:
    db = api.client.app.state.db  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        ticket = session.scalar(select(Ticket).order_by(Ticket.id.desc()).limit(1))
        assert ticket is not None
        return str(ticket.tracking_token)


def test_remote_join_can_be_switched_off(japi: Api) -> None:
    branch_settings(japi, remote_join=False)
    assert "not offered here" in japi.client.get("/join").text
    r = japi.client.post(f"/join/{japi.data.services['A']}", follow_redirects=False)
    assert r.status_code == 404


def test_last_years_tickets_get_their_channel_on_upgrade(japi: Api, database_url: str) -> None:
    from alembic import command

    from wins import migrate

    japi.issue("A")
    japi.issue("B", who="staff")
    japi.client.post(f"/join/{japi.data.services['C']}", follow_redirects=False)
    command.downgrade(migrate.alembic_config(database_url), "0007")  # last year's schema, tickets and all
    command.upgrade(migrate.alembic_config(database_url), "head")
    assert channels(japi) == {"A001": "kiosk", "B001": "staff", "C001": "kiosk"}  # remote was not known then


def test_reports_split_tickets_by_channel(japi: Api) -> None:
    japi.issue("A")
    japi.issue("A")
    japi.issue("B", who="staff")
    japi.client.post(f"/join/{japi.data.services['C']}", follow_redirects=False)
    text = page(japi, "manager", "/reports/channels.csv")  # the reports are pages: signed in by cookie
    rows = {line.split(",")[0]: line.split(",")[1] for line in text.strip().splitlines()[1:]}
    assert rows == {"kiosk": "2", "staff": "1", "remote": "1"}


def test_a_closed_service_is_not_offered_and_a_join_is_refused(japi: Api) -> None:
    """Service hours apply to remote joins: on a branch holiday /join offers nothing and a posted join is refused."""
    from zoneinfo import ZoneInfo

    zone = japi.http.get("/api/v1/branch", headers=japi.auth("manager")).json()["timezone"]
    today = clock.utcnow().astimezone(ZoneInfo(zone)).date().isoformat()
    assert "Take a ticket for General" in japi.client.get("/join").text
    branch_settings(japi, holidays=[today])
    listed = japi.client.get("/join")
    assert listed.status_code == 200 and "Take a ticket for General" not in listed.text
    r = japi.client.post(f"/join/{japi.data.services['A']}", data={"k": ""}, follow_redirects=False)
    assert r.status_code == 409 and "closed" in r.text.lower()
    assert "A001" not in channels(japi)
