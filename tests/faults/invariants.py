"""Checks on the stored state that must hold whatever happened before (crashes, races, odd sequences)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from wins.config import Settings
from wins.db import Database
from wins.events.models import Event
from wins.tickets.models import HELD, Ticket, TicketSequence, TicketStatus

Sequences = dict[tuple[int, Any], tuple[int, int, int]]  # (service, day) -> (last_seq, waiting, waiting_priority)


def load(settings: Settings) -> tuple[list[Ticket], list[Event], Sequences]:
    db = Database(settings)
    try:
        with db.session(write=False) as session:
            tickets = list(session.scalars(select(Ticket).order_by(Ticket.id)))
            events = list(session.scalars(select(Event).order_by(Event.id)))
            sequences = {
                (s.service_id, s.business_day): (s.last_seq, s.waiting, s.waiting_priority)
                for s in session.scalars(select(TicketSequence))
            }
    finally:
        db.dispose()
    return tickets, events, sequences


def check_tickets(tickets: list[Ticket], sequences: Sequences) -> None:
    """Numbers unique per service-day, no impossible state, each counter holds at most one ticket, and the
    queue lengths kept per service-day equal the waiting tickets."""
    numbers = Counter((t.issued_service_id, t.business_day, t.seq) for t in tickets)
    duplicates = [key for key, n in numbers.items() if n > 1]
    assert not duplicates, f"numbers handed out twice: {duplicates}"
    labels = Counter((t.issued_service_id, t.business_day, t.number) for t in tickets)
    assert all(n == 1 for n in labels.values()), "the same printed number twice on one day"
    for t in tickets:
        # The sequence row is bumped in the issuing transaction: it can never lag behind a stored ticket.
        assert sequences[(t.issued_service_id, t.business_day)][0] >= t.seq, t.number
        state = f"ticket {t.number} ({t.status}, counter {t.counter_id})"
        if t.status in HELD:
            assert t.counter_id is not None and t.staff_id is not None and t.called_at is not None, state
            assert t.finished_at is None, state
        if t.status == TicketStatus.waiting:
            assert t.counter_id is None and t.finished_at is None and t.serving_at is None, state
        if t.status == TicketStatus.serving:
            assert t.serving_at is not None, state
        if t.status in (TicketStatus.done, TicketStatus.no_show, TicketStatus.cancelled, TicketStatus.expired):
            assert t.finished_at is not None, state
        if t.status in (TicketStatus.done, TicketStatus.no_show):
            assert t.called_at is not None and t.call_count >= 1, state
    waiting = Counter((t.service_id, t.business_day) for t in tickets if t.status == TicketStatus.waiting)
    waiting_priority = Counter(
        (t.service_id, t.business_day) for t in tickets if t.status == TicketStatus.waiting and t.priority
    )
    for key, (_, kept, kept_priority) in sequences.items():
        assert (kept, kept_priority) == (waiting[key], waiting_priority[key]), f"queue length of {key} drifted"
    assert set(waiting) <= set(sequences), "a queue with waiting tickets has no length row"
    held = Counter(t.counter_id for t in tickets if t.status in HELD)
    assert all(n == 1 for n in held.values()), f"a counter holds several tickets: {held}"


def check_events(tickets: list[Ticket], events: list[Event]) -> None:
    """Every ticket has its issue event; a ticket's last event agrees with its stored state."""
    ids = [e.id for e in events]
    assert ids == sorted(set(ids))
    issued = {e.data["id"] for e in events if e.type == "ticket.issued"}
    assert {t.id for t in tickets} == issued, "tickets and ticket.issued events disagree"
    last: dict[int, Event] = {}
    for e in events:
        if e.type.startswith("ticket."):
            last[e.data["id"]] = e
    for t in tickets:
        assert last[t.id].data["status"] == t.status, f"{t.number}: event says {last[t.id].data['status']}"
