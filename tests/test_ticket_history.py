"""A ticket's whole story for answering a complaint (`GET /api/v1/tickets/history`), on SQLite and PostgreSQL:
issued where, every call, recall, transfer, requeue and hand-over, who did it at which counter, waits and
service time."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import Api
from wins import clock


def test_the_story_of_a_ticket_tells_every_step_and_who_did_it(api: Api) -> None:
    start = clock.utcnow()
    clock.freeze(start)
    ticket = api.issue("A")
    api.issue("A")
    clock.freeze(start + timedelta(minutes=4))
    assert api.call_next("1")["id"] == ticket["id"]  # waited 4 min
    clock.freeze(start + timedelta(minutes=5))
    api.act(ticket["id"], "recall")
    api.act(ticket["id"], "requeue")
    clock.freeze(start + timedelta(minutes=7))
    api.post(f"/api/v1/tickets/{ticket['id']}/transfer", json={"service_id": api.data.services["B"]})
    clock.freeze(start + timedelta(minutes=9))
    api.post(f"/api/v1/counters/{api.data.counters['2']}/open", "staff2")
    assert api.call_next("3", "manager")["id"] == ticket["id"]  # counter 3 calls Payments first; waited 2 min
    clock.freeze(start + timedelta(minutes=10))
    # The manager leaves, handing the customer to staff2 at counter 2.
    hand_over = {"held_ticket": "transfer", "to_counter_id": api.data.counters["2"]}
    api.post(f"/api/v1/counters/{api.data.counters['3']}/close", "manager", json=hand_over)
    api.act(ticket["id"], "start", "staff2")
    clock.freeze(start + timedelta(minutes=16))
    api.act(ticket["id"], "complete", "staff2")

    day = ticket["business_day"]
    [story] = api.get(f"/api/v1/tickets/history?number={ticket['number'].lower()}&day={day}", "manager")
    assert story["number"] == ticket["number"] and story["status"] == "done"
    assert story["issued_by"] == "Issued at the kiosk kiosk"
    assert (story["issued_service"], story["service"]) == ("General", "Payments")
    steps = [(s["type"], s["counter"], s["staff"]) for s in story["steps"]]
    assert steps == [
        ("ticket.issued", None, None),
        ("ticket.called", "1", "staff"),
        ("ticket.recalled", "1", "staff"),
        ("ticket.requeued", None, "staff"),
        ("ticket.transferred", None, "staff"),
        ("ticket.called", "3", "manager"),
        ("ticket.called", "2", "manager"),  # handed over
        ("ticket.serving", "2", "staff2"),
        ("ticket.done", "2", "staff2"),
    ]
    texts = [s["text"] for s in story["steps"]]
    assert texts[2] == "Called again to counter 1 (call 2)"
    assert texts[4] == "Transferred from General to Payments, keeping its place"
    assert texts[6] == "Handed over from counter 3 and called to counter 2 (call 4)"
    assert story["handled_by"] == ["manager", "staff", "staff2"]
    # Waits: 4 min to the first call, then from the requeue (5 min) to the call at counter 3 (9 min).
    assert story["waits_seconds"] == [240, 240]
    assert story["service_seconds"] == 360 and story["total_seconds"] == 960
    assert (story["calls"], story["transfers"]) == (4, 1)

    # Not found, bad input, and who may ask.
    r = api.client.get(f"/api/v1/tickets/history?number=Z999&day={day}", headers=api.auth("manager"))
    assert r.status_code == 404 and "No ticket Z999" in r.json()["detail"]
    r = api.client.get("/api/v1/tickets/history?number=A001&day=29-11-2026", headers=api.auth("manager"))
    assert r.status_code == 422 and "YYYY-MM-DD" in r.json()["detail"]
    api.get(f"/api/v1/tickets/history?number=A001&day={day}", "staff", expect=403)
    # Without a day: today's ticket.
    assert api.get(f"/api/v1/tickets/history?number={ticket['number']}", "manager")[0]["id"] == ticket["id"]


def test_a_ticket_the_customer_cancelled_says_so(api: Api) -> None:
    ticket = api.issue("B")
    r = api.client.post(f"/api/v1/public/tickets/{ticket['tracking_token']}/cancel")
    assert r.status_code == 200, r.text
    [story] = api.get(f"/api/v1/tickets/history?number={ticket['number']}", "manager")
    assert [s["text"] for s in story["steps"]] == ["Issued at the kiosk kiosk", "Cancelled by the customer"]
    assert story["waits_seconds"] == [] and story["service_seconds"] is None
