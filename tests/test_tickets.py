"""The queue engine through the REST API: numbering, state machine, ordering, idempotency, transfer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Api
from wins import clock


def test_numbers_count_up_per_service(api: Api) -> None:
    numbers = [api.issue("A")["number"], api.issue("A")["number"], api.issue("B")["number"], api.issue("A")["number"]]
    assert numbers == ["A001", "A002", "B001", "A003"]


def test_issue_returns_position_wait_and_tracking(api: Api) -> None:
    first = api.issue("A")
    second = api.issue("A")
    assert first["status"] == "waiting" and first["position"] == 1 and second["position"] == 2
    assert second["people_ahead"] == 1
    assert second["estimated_wait_seconds"] > first["estimated_wait_seconds"] >= 0
    low, high = second["estimated_wait_range"]
    assert low <= second["estimated_wait_seconds"] <= high
    assert len(first["tracking_token"]) >= 32 and first["tracking_url"].endswith("/t/" + first["tracking_token"])
    public = api.client.get(f"/api/v1/public/tickets/{second['tracking_token']}").json()
    assert public["number"] == "A002" and public["position"] == 2
    assert "tracking_token" not in public and "staff_id" not in public


def test_numbers_restart_at_local_midnight_and_history_is_kept(api: Api) -> None:
    # The branch is in Europe/Paris (UTC+1 in winter): 22:59 UTC is 23:59 there, 23:01 UTC is the next day.
    clock.freeze(datetime(2026, 1, 10, 22, 59, tzinfo=UTC))
    before = [api.issue("A"), api.issue("A")]
    clock.freeze(datetime(2026, 1, 10, 23, 1, tzinfo=UTC))
    after = api.issue("A")
    assert [t["number"] for t in before] == ["A001", "A002"] and after["number"] == "A001"
    assert before[0]["business_day"] == "2026-01-10" and after["business_day"] == "2026-01-11"
    # Yesterday's tickets still exist, but today's counters call only today's queue.
    assert api.client.get(f"/api/v1/tickets/{before[0]['id']}", headers=api.auth("staff")).status_code == 200
    called = api.call_next("1")
    assert called is not None and called["id"] == after["id"]
    assert api.call_next("1") is None


def test_rollover_hour_moves_the_day_boundary(api: Api) -> None:
    r = api.client.patch("/api/v1/branch", json={"day_rollover_hour": 4}, headers=api.auth("manager"))
    assert r.status_code == 200
    clock.freeze(datetime(2026, 1, 10, 22, 0, tzinfo=UTC))  # 23:00 Paris
    first = api.issue("A")
    clock.freeze(datetime(2026, 1, 11, 2, 0, tzinfo=UTC))  # 03:00 Paris: still the same business day
    second = api.issue("A")
    clock.freeze(datetime(2026, 1, 11, 3, 30, tzinfo=UTC))  # 04:30 Paris: new day
    third = api.issue("A")
    assert [first["number"], second["number"], third["number"]] == ["A001", "A002", "A001"]


def test_full_life_cycle_and_timestamps(api: Api) -> None:
    t = api.issue("A")
    called = api.call_next("1")
    assert called is not None and called["status"] == "called" and called["counter_name"] == "1"
    recalled = api.act(t["id"], "recall")
    assert recalled["call_count"] == 2 and recalled["status"] == "called"
    serving = api.act(t["id"], "start")
    assert serving["status"] == "serving" and serving["serving_at"]
    done = api.act(t["id"], "complete")
    assert done["status"] == "done" and done["finished_at"] and done["called_at"]


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], "start"),  # waiting cannot start
        ([], "recall"),
        ([], "no-show"),
        ([], "complete"),
        (["call"], "cancel"),  # called cannot be cancelled
        (["call", "start"], "recall"),
        (["call", "start"], "no-show"),
        (["call", "complete"], "requeue"),
        (["call", "complete"], "start"),
        (["call", "no-show"], "start"),
        (["cancel"], "cancel_again"),
    ],
)
def test_invalid_transitions_are_refused_with_409(api: Api, setup: list[str], action: str) -> None:
    t = api.issue("A")
    for step in setup:
        if step == "call":
            assert api.call_next("1") is not None
        else:
            api.act(t["id"], step)
    name = "cancel" if action == "cancel_again" else action
    r = api.client.post(f"/api/v1/tickets/{t['id']}/{name}", headers=api.auth("staff"))
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "invalid_transition" and t["number"] in body["detail"]


def test_no_show_and_requeue(api: Api) -> None:
    a = api.issue("A")
    b = api.issue("A")
    api.call_next("1")
    assert api.act(a["id"], "requeue")["status"] == "waiting"
    # Requeued keeps its place (issue time): it is called again before b.
    again = api.call_next("1")
    assert again is not None and again["id"] == a["id"] and again["call_count"] == 2
    assert api.act(a["id"], "no-show")["status"] == "no_show"
    nxt = api.call_next("1")
    assert nxt is not None and nxt["id"] == b["id"]


def test_call_next_orders_by_priority_then_counter_order_then_time(api: Api) -> None:
    # Counter 3 serves B first, then A.
    a1 = api.issue("A")
    b1 = api.issue("B")
    a2 = api.issue("A")
    a3_priority = api.issue("A", who="staff", priority=True)
    order = [api.call_next("3") for _ in range(4)]
    assert [t["id"] for t in order if t] == [a3_priority["id"], b1["id"], a1["id"], a2["id"]]
    assert api.call_next("3") is None


def test_service_priority_weight_beats_counter_order(api: Api) -> None:
    a1 = api.issue("A")
    b1 = api.issue("B")
    r = api.client.patch(
        f"/api/v1/services/{api.data.services['A']}", json={"priority_weight": 5}, headers=api.auth("manager")
    )
    assert r.status_code == 200
    first = api.call_next("3")  # counter 3 lists B first, but A now weighs more
    assert first is not None and first["id"] == a1["id"]
    second = api.call_next("3")
    assert second is not None and second["id"] == b1["id"]


def test_call_next_completes_the_ticket_the_counter_holds(api: Api) -> None:
    a = api.issue("A")
    b = api.issue("A")
    api.call_next("1")
    api.call_next("1")
    first = api.client.get(f"/api/v1/tickets/{a['id']}", headers=api.auth("staff")).json()
    assert first["status"] == "done" and first["finished_at"]
    second = api.client.get(f"/api/v1/tickets/{b['id']}", headers=api.auth("staff")).json()
    assert second["status"] == "called"


def test_call_next_on_empty_queue_answers_204(api: Api) -> None:
    r = api.client.post(f"/api/v1/counters/{api.data.counters['1']}/call-next", headers=api.auth("staff"))
    assert r.status_code == 204 and r.content == b""


def test_counter_only_calls_its_services(api: Api) -> None:
    api.issue("C")
    assert api.call_next("1") is None  # counter 1 serves A and B
    assert api.call_next("2") is not None  # counter 2 serves A and C


def test_idempotency_key_returns_the_same_ticket(api: Api) -> None:
    first = api.client.post(
        "/api/v1/tickets",
        json={"service_id": api.data.services["A"]},
        headers={**api.auth("kiosk"), "Idempotency-Key": "tap-0001-abcdef"},
    )
    again = api.client.post(
        "/api/v1/tickets",
        json={"service_id": api.data.services["A"]},
        headers={**api.auth("kiosk"), "Idempotency-Key": "tap-0001-abcdef"},
    )
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"] and first.json()["number"] == "A001"
    assert api.issue("A")["number"] == "A002"  # the replay did not use up a number
    other = api.client.post(
        "/api/v1/tickets",
        json={"service_id": api.data.services["B"]},
        headers={**api.auth("kiosk"), "Idempotency-Key": "tap-0001-abcdef"},
    )
    assert other.status_code == 409


def test_transfer_keeps_number_and_place(api: Api) -> None:
    early_a = api.issue("A")
    b1 = api.issue("B")
    api.call_next("2")  # counter 2 (A, C) calls early_a
    moved = api.client.post(
        f"/api/v1/tickets/{early_a['id']}/transfer",
        json={"service_id": api.data.services["B"]},
        headers=api.auth("staff"),
    )
    assert moved.status_code == 200
    body = moved.json()
    assert body["number"] == "A001" and body["service_id"] == api.data.services["B"] and body["status"] == "waiting"
    assert body["position"] == 1  # issued before b1, so it keeps the head of the B queue
    nxt = api.call_next("3")
    assert nxt is not None and nxt["id"] == early_a["id"]
    assert api.call_next("3")["id"] == b1["id"]


def test_transfer_to_end_joins_the_back(api: Api) -> None:
    a = api.issue("A")
    b1 = api.issue("B")
    r = api.client.post(
        f"/api/v1/tickets/{a['id']}/transfer",
        json={"service_id": api.data.services["B"], "to_end": True},
        headers=api.auth("staff"),
    )
    assert r.status_code == 200 and r.json()["position"] == 2
    assert api.call_next("3")["id"] == b1["id"]


def test_call_specific_ticket_out_of_order(api: Api) -> None:
    api.issue("A")
    second = api.issue("A")
    counter = api.data.counters["1"]
    r = api.client.post(f"/api/v1/counters/{counter}/call/{second['id']}", headers=api.auth("staff"))
    assert r.status_code == 200 and r.json()["status"] == "called"
    again = api.client.post(
        f"/api/v1/counters/{api.data.counters['2']}/call/{second['id']}", headers=api.auth("staff2")
    )
    assert again.status_code == 409 and "already called to counter 1" in again.json()["detail"]


def test_customer_can_leave_the_queue(api: Api) -> None:
    t = api.issue("A")
    r = api.client.post(f"/api/v1/public/tickets/{t['tracking_token']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert api.call_next("1") is None
    assert api.client.get("/api/v1/public/tickets/not-a-real-token").status_code == 404


def test_stopped_service_refuses_tickets_but_its_queue_is_still_called(api: Api) -> None:
    # "Stop issuing" (active false, issue 13): no new tickets; nobody already waiting is stranded.
    waiting = api.issue("B")
    r = api.client.patch(
        f"/api/v1/services/{api.data.services['B']}", json={"active": False}, headers=api.auth("manager")
    )
    assert r.status_code == 200
    refused = api.client.post("/api/v1/tickets", json={"service_id": api.data.services["B"]}, headers=api.auth("kiosk"))
    assert refused.status_code == 409 and "Payments" in refused.json()["detail"]
    assert api.call_next("3")["id"] == waiting["id"]


def test_queue_snapshot(api: Api) -> None:
    a = api.issue("A")
    api.issue("A")
    api.issue("C")
    api.call_next("1")
    snap = api.client.get("/api/v1/queue", headers=api.auth("display")).json()
    by_prefix = {s["prefix"]: s for s in snap["services"]}
    assert by_prefix["A"]["waiting_count"] == 1 and by_prefix["C"]["waiting_count"] == 1
    assert by_prefix["B"]["waiting_count"] == 0
    counter1 = next(c for c in snap["counters"] if c["name"] == "1")
    assert counter1["ticket"]["id"] == a["id"] and counter1["is_open"]
    assert counter1["staff_name"] is None  # a display board shows counters, never who sits there (issue 11)
    assert snap["recent_calls"][0]["number"] == "A001"
    assert snap["last_event_id"] > 0


def test_estimate_uses_recent_service_times_and_open_counters(api: Api) -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    clock.freeze(start)
    # Serve two A tickets taking 4 minutes each at counter 1.
    for _ in range(2):
        t = api.issue("A")
        api.call_next("1")
        api.act(t["id"], "start")
        clock.advance(timedelta(minutes=4))
        api.act(t["id"], "complete")
    waiting = [api.issue("A") for _ in range(3)]
    # One open counter (counter 1, staff), 240 s per customer; the counter is idle so the first waits 0.
    assert [t["estimated_wait_seconds"] for t in waiting] == [0, 360, 600]
    # A second counter opens: waits roughly halve.
    r = api.client.post(f"/api/v1/counters/{api.data.counters['2']}/open", headers=api.auth("staff2"))
    assert r.status_code == 200
    third = api.client.get(f"/api/v1/tickets/{waiting[2]['id']}", headers=api.auth("staff")).json()
    assert third["estimated_wait_seconds"] == 300  # (2 ahead + 0.5) * 240 s / 2 counters


def test_a_person_sits_at_one_counter_at_a_time(api: Api) -> None:
    api.issue("A")
    api.issue("A")
    first = api.call_next("1")
    # Moving on while counter 1 holds A001 would strand it (issue 13): refused until they say what happens to it.
    api.post(f"/api/v1/counters/{api.data.counters['2']}/call-next", expect=409)
    api.post(f"/api/v1/counters/{api.data.counters['2']}/call-next", json={"held_ticket": "complete"})
    assert api.get(f"/api/v1/tickets/{first['id']}", "staff")["status"] == "done"
    snap = api.client.get("/api/v1/queue", headers=api.auth("staff")).json()
    seated = {c["name"]: c["staff_name"] for c in snap["counters"]}
    assert seated["1"] is None
    assert seated["2"] == "staff"
