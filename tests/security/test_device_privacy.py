"""Kiosks and display boards stand in public view: their tokens see counter names, never who sits there
(issue 11). Staff keep seeing names."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

FULL_NAME = "Alice Q. Example"


def _seat_named_staff(api: Api) -> None:
    r = api.client.patch(
        f"/api/v1/users/{api.data.users['staff']}", json={"full_name": FULL_NAME}, headers=api.auth("admin")
    )
    assert r.status_code == 200
    api.issue("A")
    assert api.call_next("1") is not None  # the staff member sits down at counter 1 and calls A001


def _counter_1(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return next(c for c in rows if c["name"] == "1")


def test_devices_see_counter_names_but_no_staff_names(api: Api) -> None:
    _seat_named_staff(api)
    for device in ("display", "kiosk"):
        counters = api.client.get("/api/v1/counters", headers=api.auth(device))
        queue = api.client.get("/api/v1/queue", headers=api.auth(device))
        events = api.client.get("/api/v1/events?since=0&timeout=0", headers=api.auth(device))
        for r in (counters, queue, events):
            assert r.status_code == 200, r.text
            assert FULL_NAME not in r.text, (device, r.url)
        assert _counter_1(counters.json())["staff_name"] is None
        seat = _counter_1(queue.json()["counters"])
        assert seat["staff_name"] is None and seat["is_open"] and seat["ticket"]["number"] == "A001"
        counter_events = [e for e in events.json()["events"] if e["type"].startswith("counter.")]
        assert counter_events and all(e["data"].get("staff_name") is None for e in counter_events)


def test_staff_still_see_who_sits_where(api: Api) -> None:
    _seat_named_staff(api)
    for who in ("staff", "manager"):
        assert _counter_1(api.client.get("/api/v1/counters", headers=api.auth(who)).json())["staff_name"] == FULL_NAME
        queue = api.client.get("/api/v1/queue", headers=api.auth(who)).json()
        assert _counter_1(queue["counters"])["staff_name"] == FULL_NAME
