"""Arrival check-in (issue 17): a remote ticket of a service that asks for it keeps its place but is called only
after "I'm here" (the code on the waiting-room screen, or staff at the desk); at the front unchecked it is passed
over, and a no-show after the grace time. Both engines, through the API and the join page."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select

from tests.conftest import Api
from tests.join.test_join import japi as japi  # the fixture
from wins import clock
from wins.audit.models import AuditEntry
from wins.auth import Principal
from wins.config import Settings
from wins.db import Database
from wins.events.models import Event
from wins.join import service as join
from wins.staff.models import StaffUser
from wins.tickets import calling
from wins.tickets.models import Ticket


def arrival_on(api: Api, prefix: str = "A", *, grace: int = 10) -> None:
    body = {"notify_ahead": 3, "remote_daily_cap": None, "arrival_checkin": True, "checkin_grace_minutes": grace}
    r = api.http.put(f"/api/v1/services/{api.data.services[prefix]}/remote", json=body, headers=api.auth("manager"))
    assert r.status_code == 200 and r.json()["arrival_checkin"] is True, r.text


def remote(api: Api, prefix: str = "A") -> str:
    """Join from a phone; the ticket's tracking token."""
    r = api.client.post(f"/join/{api.data.services[prefix]}", data={"k": ""}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return str(r.headers["location"].removeprefix("/t/"))


def track(api: Api, token: str) -> Any:
    return api.http.get(f"/api/v1/public/tickets/{token}").json()


def code(settings: Settings, *, back: int = 0) -> str:
    return join.short_code(settings.effective_secret_key, 1, minutes=settings.join_key_minutes, back=back)


def event_types(api: Api) -> list[str]:
    db = api.client.app.state.db  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        return list(session.scalars(select(Event.type).order_by(Event.id)))


def test_a_remote_ticket_is_passed_over_until_its_customer_checks_in(japi: Api, settings: Settings) -> None:
    arrival_on(japi)
    token = remote(japi)  # A001, from home
    assert track(japi, token)["arrival"] == "needed"
    japi.issue("A")  # A002 at the kiosk: on site, no check-in
    japi.issue("A")  # A003
    called = japi.call_next("1")
    assert called["number"] == "A002"  # A001 keeps its place but is passed over
    seen = track(japi, token)
    assert seen["status"] == "waiting" and seen["arrival"] == "passed_over" and seen["checkin_deadline"]
    assert seen["position"] == 1  # still first in line
    assert "ticket.passed_over" in event_types(japi)
    # a wrong or stale code: a 403 that says what to do
    r = japi.http.post(f"/api/v1/public/tickets/{token}/check-in", json={"code": "000000"})
    if code(settings) == "000000":  # pragma: no cover - one chance in a million
        return
    assert r.status_code == 403 and "code shown now on the screen" in r.json()["detail"]
    r = japi.http.post(
        f"/api/v1/public/tickets/{token}/check-in", json={"code": code(settings)[:3] + " " + code(settings)[3:]}
    )
    assert r.status_code == 200 and r.json()["arrival"] == "checked_in", r.text
    assert event_types(japi)[-1] == "ticket.checked_in"
    # checked in: called next in its normal order, before A003
    assert japi.call_next("1")["number"] == "A001"
    assert japi.call_next("1")["number"] == "A003"


def test_the_previous_key_and_the_qr_links_key_prove_arrival(japi: Api, settings: Settings) -> None:
    arrival_on(japi)
    first, second = remote(japi), remote(japi)
    for odd in ("٣٣٣٣٣٣", "   ", "x" * 64):  # not ASCII, nothing typed, too long for a code: a 403, never a 500
        r = japi.http.post(f"/api/v1/public/tickets/{first}/check-in", json={"code": odd})
        assert r.status_code == 403, r.text
    assert japi.http.post(f"/api/v1/public/tickets/{first}/check-in", json={"code": "x" * 65}).status_code == 422
    r = japi.http.post(f"/api/v1/public/tickets/{first}/check-in", json={"code": code(settings, back=1)})
    assert r.status_code == 200 and r.json()["arrival"] == "checked_in"
    key = join.join_key(settings.effective_secret_key, 1, minutes=settings.join_key_minutes)
    assert japi.http.post(f"/api/v1/public/tickets/{second}/check-in", json={"code": key}).status_code == 200
    # the display's join link carries the key once a service asks for check-in, and gives the short code
    link = japi.get("/api/v1/join/link", "display")
    assert link["url"].endswith("?k=" + key) and link["code"].replace(" ", "") == code(settings)
    # a kiosk ticket needs nothing: checking in is harmless
    kiosk = japi.issue("A")
    seen = japi.http.post(f"/api/v1/public/tickets/{kiosk['tracking_token']}/check-in", json={"code": "x"})
    assert seen.status_code == 200 and seen.json()["arrival"] is None


def test_not_checked_in_within_the_grace_time_it_ends_as_no_show(japi: Api, settings: Settings) -> None:
    arrival_on(japi, grace=5)
    token = remote(japi)
    japi.issue("A")
    japi.issue("A")
    start = clock.utcnow()
    clock.freeze(start)
    assert japi.call_next("1")["number"] == "A002"
    clock.freeze(start + timedelta(minutes=4))
    assert japi.call_next("1")["number"] == "A003"
    assert track(japi, token)["status"] == "waiting"  # 4 of 5 minutes: still its chance
    clock.freeze(start + timedelta(minutes=5, seconds=1))
    r = japi.http.post(f"/api/v1/public/tickets/{token}/check-in", json={"code": code(settings)})
    assert r.status_code == 409 and "Too late" in r.json()["detail"]
    assert japi.call_next("1") is None  # nobody else waits; A001 ends as no-show on this call
    seen = track(japi, token)
    assert seen["status"] == "no_show" and seen["arrival"] == "missed"
    r = japi.http.post(f"/api/v1/public/tickets/{token}/check-in", json={"code": code(settings)})
    assert r.status_code == 409 and "ask at the desk" in r.json()["detail"]
    db = japi.client.app.state.db  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "ticket.no_show"))
        assert entry is not None and entry.details["reason"] == "not_checked_in"


def test_staff_mark_a_ticket_arrived_in_their_branch(japi: Api) -> None:
    arrival_on(japi)
    token = remote(japi)
    db = japi.client.app.state.db  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.tracking_token == token))
        assert ticket is not None and ticket.checkin_required
        ticket_id = ticket.id
    japi.post(f"/api/v1/tickets/{ticket_id}/check-in", "kiosk", expect=403)
    seen = japi.post(f"/api/v1/tickets/{ticket_id}/check-in", "reception")
    assert seen["arrival"] == "checked_in"
    assert japi.call_next("1")["number"] == "A001"
    japi.post(f"/api/v1/tickets/{ticket_id}/check-in", "staff", expect=200)  # already in: harmless
    with db.session(write=False) as session:
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "ticket.checked_in"))
    assert japi.post("/api/v1/tickets/999999/check-in", "reception", expect=404)["detail"]


def test_switched_off_nothing_waits_for_check_in(japi: Api) -> None:
    remote(japi)  # A001 before the setting: no check-in
    arrival_on(japi)
    token = remote(japi)  # A002 needs it
    body = {"notify_ahead": 3, "remote_daily_cap": None, "arrival_checkin": False, "checkin_grace_minutes": 10}
    path = f"/api/v1/services/{japi.data.services['A']}/remote"
    assert japi.http.put(path, json=body, headers=japi.auth("staff")).status_code == 403
    assert (
        japi.http.put(path, json={**body, "checkin_grace_minutes": 0}, headers=japi.auth("manager")).status_code == 422
    )
    assert japi.get(path, "manager")["checkin_grace_minutes"] == 10
    assert japi.call_next("1")["number"] == "A001"
    assert japi.call_next("1") is None  # A002 waits for check-in: passed over
    assert track(japi, token)["arrival"] == "passed_over"


def test_the_join_page_offers_im_here_to_the_phone_that_holds_the_ticket(japi: Api, settings: Settings) -> None:
    arrival_on(japi)
    token = remote(japi)  # the join sets the phone's ticket cookie
    key = join.join_key(settings.effective_secret_key, 1, minutes=settings.join_key_minutes)
    page = japi.client.get(f"/join?k={key}")
    assert "I&#39;m here — check in A001" in page.text or "I'm here — check in A001" in page.text
    r = japi.client.post("/join/check-in", data={"k": "stale"}, follow_redirects=False)
    assert r.status_code == 403 and "not the current one" in r.text
    r = japi.client.post("/join/check-in", data={"k": key}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/t/{token}"
    assert track(japi, token)["arrival"] == "checked_in"
    japi.client.cookies.clear()
    r = japi.client.post("/join/check-in", data={"k": key}, follow_redirects=False)
    assert r.status_code == 404 and "holds no waiting ticket" in r.text


def test_upgrade_from_a_populated_0013_database_turns_nothing_on(japi: Api, database_url: str) -> None:
    """Migration 0014 on last release's data: services keep their remote settings with check-in off, every
    ticket (remote ones too) needs no check-in, and calling goes on as before."""
    from alembic import command

    from wins import migrate

    path = f"/api/v1/services/{japi.data.services['A']}/remote"
    body = {"notify_ahead": 5, "remote_daily_cap": 20}
    assert japi.http.put(path, json=body, headers=japi.auth("manager")).status_code == 200
    remote(japi)  # A001 from a phone
    japi.issue("A")  # A002 at the kiosk
    command.downgrade(migrate.alembic_config(database_url), "0013")  # the released schema, data and all
    command.upgrade(migrate.alembic_config(database_url), "head")
    assert japi.get(path, "manager") == {
        "service_id": japi.data.services["A"],
        "notify_ahead": 5,
        "remote_daily_cap": 20,
        "arrival_checkin": False,
        "checkin_grace_minutes": 10,
    }
    db = japi.client.app.state.db  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        rows = session.execute(select(Ticket.number, Ticket.checkin_required, Ticket.checked_in_at)).all()
    assert sorted(rows) == [("A001", False, None), ("A002", False, None)]
    assert [japi.call_next("1")["number"], japi.call_next("1")["number"]] == ["A001", "A002"]


def test_switching_check_in_off_lets_the_tickets_waiting_for_it_be_called(japi: Api) -> None:
    arrival_on(japi)
    token = remote(japi)  # A001 needs check-in
    japi.issue("A")  # A002
    assert japi.call_next("1")["number"] == "A002"
    assert track(japi, token)["arrival"] == "passed_over"
    body = {"notify_ahead": 3, "remote_daily_cap": None, "arrival_checkin": False, "checkin_grace_minutes": 10}
    path = f"/api/v1/services/{japi.data.services['A']}/remote"
    assert japi.http.put(path, json=body, headers=japi.auth("manager")).status_code == 200
    assert track(japi, token)["arrival"] is None
    assert japi.call_next("1")["number"] == "A001"  # called as usual, not left stuck unseen


PASS_OVER_SCAN = "SELECT tickets.id, tickets.checkin_required, tickets.checked_in_at FROM"  # its front scan


def _call_next_statements(db: Database, counter_id: int, actor: Principal) -> list[str]:
    """Every statement one call-next sends on a real engine; rolled back, so the queue stays as it was."""
    sent: list[str] = []

    def keep(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(" ".join(statement.split()))

    event.listen(db.write_engine, "before_cursor_execute", keep)
    session = db.open()
    try:
        called = calling.call_next(session, counter_id=counter_id, actor=actor)
        assert called is not None and called.number == "A001"
    finally:
        event.remove(db.write_engine, "before_cursor_execute", keep)
        db.rollback_and_close(session)
    return sent


def test_call_next_scans_for_passed_over_tickets_only_where_a_service_asks_for_check_in(
    japi: Api, settings: Settings
) -> None:
    japi.issue("A")
    japi.issue("B")
    db = Database(settings)  # its own engine, like another worker's: only this call's statements are counted
    try:
        with db.session(write=False) as session:
            user = session.scalars(select(StaffUser).where(StaffUser.id == japi.data.users["staff"])).one()
            session.expunge(user)
        actor, counter = Principal(staff=user), japi.data.counters["1"]  # counter 1 calls A and B
        off = _call_next_statements(db, counter, actor)
        assert not [s for s in off if PASS_OVER_SCAN in s]
        arrival_on(japi, "B")  # on another "worker" (the app's engine): counted at this worker's next call
        on = _call_next_statements(db, counter, actor)
        assert len(on) == len(off) + 1
        assert len([s for s in on if PASS_OVER_SCAN in s]) == 1
        assert len(_call_next_statements(db, japi.data.counters["2"], actor)) == len(off)  # 2 calls A and C
    finally:
        db.dispose()


def test_switching_check_in_off_reaches_open_tracking_pages_and_staff_streams(japi: Api, settings: Settings) -> None:
    """Through the real event stream: the phone's long-poll (the tracking page's) and the staff long-poll wake on the
    change, and what they then read no longer asks for check-in. A long-poll with no event answers only at its
    timeout, with `last_id` unchanged: so an answer past `since` proves an event woke it."""
    arrival_on(japi)
    token = remote(japi)  # A001 waits for check-in
    done = remote(japi)  # A002 checked in already: nothing to tell it
    r = japi.http.post(f"/api/v1/public/tickets/{done}/check-in", json={"code": code(settings)})
    assert r.status_code == 200 and r.json()["arrival"] == "checked_in", r.text
    page = japi.http.get(f"/api/v1/public/tickets/{token}/updates", params={"timeout": 0}).json()
    since = page["last_id"]
    assert page["ticket"]["arrival"] == "needed"
    answers: dict[str, Any] = {}

    def poll(name: str, path: str, headers: dict[str, str]) -> None:
        answers[name] = japi.http.get(path, params={"since": since, "timeout": 30}, headers=headers).json()

    # Replayed from `since`: each poll hears the change whether it starts before or after it commits.
    polls = [
        threading.Thread(target=poll, args=("phone", f"/api/v1/public/tickets/{token}/updates", {})),
        threading.Thread(target=poll, args=("staff", "/api/v1/events", japi.auth("reception"))),
    ]
    for t in polls:
        t.start()
    body = {"notify_ahead": 3, "remote_daily_cap": None, "arrival_checkin": False, "checkin_grace_minutes": 10}
    path = f"/api/v1/services/{japi.data.services['A']}/remote"
    assert japi.http.put(path, json=body, headers=japi.auth("manager")).status_code == 200
    for t in polls:
        t.join()
    phone = answers["phone"]
    assert phone["last_id"] > since and phone["ticket"]["arrival"] is None
    staff = [e for e in answers["staff"]["events"] if e["type"] == "ticket.checkin_waived"]
    assert [(e["data"]["number"], e["data"]["status"]) for e in staff] == [("A001", "waiting")]
    assert "tracking_token" not in staff[0]["data"]
    assert track(japi, done)["arrival"] == "checked_in"
    # Switched off again, or off for a service nobody waits in: no event.
    assert japi.http.put(path, json=body, headers=japi.auth("manager")).status_code == 200
    assert event_types(japi).count("ticket.checkin_waived") == 1
