"""Service opening hours, branch holidays and the last-ticket cut-off (wins.services.hours): issuing outside them
is refused with `service_closed` and `opens_at`, by the route and the express lane alike; the service list says
`open_now` / `opens_at` / `closes_at`; those already waiting are still called; no hours = open at any time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import Api
from tests.support.rest import Rest
from tests.support.seed import Seeded
from tests.support.server import LiveServer
from wins import clock

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
OFFICE_WEEK = {day: [{"opens": "08:00", "closes": "12:00"}, {"opens": "13:00", "closes": "17:00"}] for day in WEEKDAYS}
OFFICE: dict[str, Any] = {"weekly": OFFICE_WEEK, "last_ticket_minutes": 15}


def paris(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in January 2026, Paris time (the 12th is a Monday, the 10th a Saturday)."""
    return datetime(2026, 1, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def set_hours(rest: Rest | Api, prefix: str, hours: Any) -> Any:
    r = rest.http.patch(
        f"/api/v1/services/{rest.data.services[prefix]}", json={"hours": hours}, headers=rest.auth("manager")
    )
    assert r.status_code == 200, r.text
    return r.json()


def listed(rest: Rest | Api, prefix: str) -> Any:
    services = rest.get("/api/v1/services?active_only=true", "kiosk")
    return next(s for s in services if s["id"] == rest.data.services[prefix])


def test_hours_open_close_and_cut_off(api: Api) -> None:
    clock.freeze(paris(12, 9))
    saved = set_hours(api, "A", OFFICE)
    assert saved["hours"]["last_ticket_minutes"] == 15 and saved["open_now"] is True
    assert listed(api, "A")["closes_at"] == "2026-01-12T11:45:00+01:00"  # last ticket 15 min before noon
    waiting = api.issue("A")
    # Lunch: closed, opens again at 13:00 today.
    clock.freeze(paris(12, 12, 30))
    refused = api.issue("A", expect=409)
    assert refused["code"] == "service_closed" and refused["opens_at"] == "2026-01-12T13:00:00+01:00"
    assert "closed now" in refused["detail"] and "13:00" in refused["detail"]
    assert listed(api, "A")["open_now"] is False and listed(api, "A")["opens_at"] == "2026-01-12T13:00:00+01:00"
    # Those already waiting are still called, and other services (no hours) still issue.
    assert api.call_next("1")["id"] == waiting["id"]
    assert api.issue("B")["status"] == "waiting"
    # Ten minutes before closing: the last-ticket cut-off; opens again tomorrow at 08:00.
    clock.freeze(paris(12, 16, 50))
    refused = api.issue("A", expect=409)
    assert refused["code"] == "service_closed" and refused["opens_at"] == "2026-01-13T08:00:00+01:00"
    assert "stopped taking tickets (15 min before closing)" in refused["detail"]
    # The weekend: opens on Monday. Staff at reception are held to the same hours.
    clock.freeze(paris(10, 10))
    refused = api.issue("A", who="staff", expect=409)
    assert refused["opens_at"] == "2026-01-12T08:00:00+01:00" and "Mon 12 Jan at 08:00" in refused["detail"]
    # No hours again: open at any time, as before issue 13.
    assert set_hours(api, "A", None)["hours"] is None
    assert api.issue("A")["status"] == "waiting"


def test_holidays_close_every_service(api: Api) -> None:
    clock.freeze(paris(12, 9))
    set_hours(api, "A", OFFICE)
    r = api.client.patch("/api/v1/branch", json={"settings": {"holidays": ["2026-01-12"]}}, headers=api.auth("manager"))
    assert r.status_code == 200, r.text
    refused = api.issue("A", expect=409)
    assert refused["code"] == "service_closed" and refused["opens_at"] == "2026-01-13T08:00:00+01:00"
    # A service without hours (open at any time) is closed on a holiday too, until the next day starts.
    refused = api.issue("B", expect=409)
    assert refused["opens_at"] == "2026-01-13T00:00:00+01:00"
    assert listed(api, "B")["open_now"] is False
    clock.freeze(paris(13, 0, 1))
    assert api.issue("B")["status"] == "waiting"
    bad = api.client.patch(
        "/api/v1/branch", json={"settings": {"holidays": ["2026-02-30"]}}, headers=api.auth("manager")
    )
    assert bad.status_code == 422 and "2026-02-30" in bad.text


def test_stop_when_the_wait_passes_closing(api: Api) -> None:
    clock.freeze(paris(12, 11, 30))
    set_hours(api, "A", {**OFFICE, "last_ticket_minutes": 0, "stop_when_wait_exceeds_time_left": True})
    issued = 0
    for _ in range(40):  # the default service time (5 min) with the seeded counters: soon longer than 30 min
        r = api.http.post("/api/v1/tickets", json={"service_id": api.data.services["A"]}, headers=api.auth("kiosk"))
        if r.status_code == 409:
            body = r.json()
            assert body["code"] == "service_closed" and "longer than the time left" in body["detail"]
            assert body["opens_at"] == "2026-01-12T13:00:00+01:00"
            break
        assert r.status_code == 201
        issued += 1
    else:
        pytest.fail("the queue never became longer than the time left")
    assert 0 < issued < 40
    # The refused tap left no trace: the numbering and the queue count went on as if it never happened.
    queue = api.queue()
    service = next(s for s in queue["services"] if s["id"] == api.data.services["A"])
    assert service["waiting_count"] == issued and len(service["tickets"]) == issued


@pytest.mark.parametrize(
    "hours",
    [
        {"weekly": {"mon": [{"opens": "12:00", "closes": "09:00"}]}},
        {"weekly": {"mon": [{"opens": "08:00", "closes": "12:00"}, {"opens": "11:00", "closes": "13:00"}]}},
        {"weekly": {"mon": [{"opens": "25:00", "closes": "26:00"}]}},
        {"weekly": {"someday": []}},
        {"weekly": {}, "last_ticket_minutes": -5},
    ],
)
def test_bad_hours_are_refused_with_a_reason(api: Api, hours: Any) -> None:
    r = api.client.patch(
        f"/api/v1/services/{api.data.services['A']}", json={"hours": hours}, headers=api.auth("manager")
    )
    assert r.status_code == 422, r.text


# -- over real HTTP: the route (both databases) and the express lane (SQLite) ----------------------------------


def _real_now() -> datetime:
    return datetime.now(PARIS)


def test_closed_and_cut_off_over_http(live_server: LiveServer, seeded: Seeded) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        rest = Rest(http, seeded)
        now = _real_now()
        # A holiday today closes a service open all week; it opens again tomorrow at midnight.
        always = {"weekly": {d: [{"opens": "00:00", "closes": "24:00"}] for d in (*WEEKDAYS, "sat", "sun")}}
        set_hours(rest, "A", always)
        r = http.patch(
            "/api/v1/branch", json={"settings": {"holidays": [now.date().isoformat()]}}, headers=rest.auth("manager")
        )
        assert r.status_code == 200
        for key in (None, "closed-key-0001"):  # with and without an Idempotency-Key: lane and route agree
            refused = rest.issue("A", key=key, expect=409)
            tomorrow = (now + timedelta(days=1)).date().isoformat()
            assert refused["code"] == "service_closed" and refused["opens_at"].startswith(tomorrow + "T00:00:00")
        assert listed(rest, "A")["open_now"] is False
        http.patch("/api/v1/branch", json={"settings": {"holidays": []}}, headers=rest.auth("manager"))
        assert rest.issue("A")["status"] == "waiting"
        # Ten minutes to closing with a 30-minute cut-off: refused, with the same words by both ways.
        closes = now + timedelta(minutes=10)
        closing = "24:00" if closes.date() != now.date() else closes.strftime("%H:%M")
        today = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[now.weekday()]
        set_hours(rest, "A", {"weekly": {today: [{"opens": "00:00", "closes": closing}]}, "last_ticket_minutes": 30})
        refused = rest.issue("A", expect=409)
        assert refused["code"] == "service_closed" and "stopped taking tickets" in refused["detail"]
        assert rest.issue("B")["status"] == "waiting"  # services without hours are not touched


def test_the_fast_check_agrees_with_the_full_answer() -> None:
    """`takes_tickets` (every tap) and `open_state` (service list, refusals) say the same, minute by minute over a
    week with a holiday, a cut-off and a DST change (Paris, 29 March 2026)."""
    from wins.services import hours

    shape = {
        "weekly": {
            **OFFICE_WEEK,
            "sat": [{"opens": "09:00", "closes": "12:00"}],
            "sun": [{"opens": "00:00", "closes": "24:00"}],
        },
        "last_ticket_minutes": 15,
    }
    parsed = hours.opening_hours(shape)
    holidays = hours.holiday_dates(["2026-03-25"])
    start = datetime(2026, 3, 23, 0, 0, tzinfo=UTC)
    for step in range(0, 8 * 24 * 60, 7):
        now = start + timedelta(minutes=step)
        full = hours.open_state(parsed, holidays, now=now, timezone="Europe/Paris")
        assert hours.takes_tickets(parsed, holidays, now=now, timezone="Europe/Paris") == full.open_now, now
        assert not (full.open_now and full.opens_at is not None), now
    assert hours.takes_tickets(None, frozenset(), now=start, timezone="Europe/Paris")
