"""Who sits at which counter, so that no customer is ever stranded at a counter nobody serves (issue 13).

Rules:
- Leaving a counter (closing it, sitting down at another, signing out) that holds a ticket (called or serving)
  is refused (`TicketHeld`, 409) naming the ticket and the choices, unless the request says what to do with
  it (`HeldChoice`: complete, requeue, transfer to a service or hand it to another open counter).
- Sitting down or calling at a counter someone else occupies is refused (`CounterOccupied`, 409) naming who
  sits there, unless the caller takes it over (`take_over`): audited, and a `counter.taken_over` event tells
  the previous occupant's workspace.
- Call-next finishes only a ticket its caller was already seated for: a ticket the caller never saw (left at
  an empty counter, or at a counter taken over in the same request) needs a choice too.

Lock order, the same on every path (issue 15's deadlock; wins.counters.locks): the person's staff row first,
then every counter row involved, in id order; then the held tickets; the events (and PostgreSQL's event-order
lock) last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from wins import clock
from wins.audit.service import record_change
from wins.counters.locks import lock_counters, lock_person, lock_seats
from wins.counters.models import Counter
from wins.counters.service import counter_event_data, end_pause
from wins.errors import Conflict, ValidationFailed
from wins.events.service import record_event
from wins.schemas import CounterTakenOver, fields_of
from wins.staff.models import Role, StaffUser
from wins.tickets.models import IS_HELD, Ticket, TicketStatus
from wins.tickets.states import Transition, check_allowed
from wins.tickets.transitions import apply_transition, transfer_locked
from wins.tickets.views import get_ticket

if TYPE_CHECKING:
    from wins.auth import Principal

HeldAction = Literal["complete", "requeue", "transfer"]


class TicketHeld(Conflict):
    code = "ticket_held"


class CounterOccupied(Conflict):
    code = "counter_occupied"


@dataclass(frozen=True)
class HeldChoice:
    """What happens to a ticket held at a counter that is being left."""

    action: HeldAction
    to_service_id: int | None = None
    to_counter_id: int | None = None
    to_end: bool = False

    @classmethod
    def of(
        cls,
        action: HeldAction | None,
        *,
        to_service_id: int | None = None,
        to_counter_id: int | None = None,
        to_end: bool = False,
    ) -> HeldChoice | None:
        if action is None:
            if to_service_id or to_counter_id:
                raise ValidationFailed("to_service_id and to_counter_id go with held_ticket=transfer.")
            return None
        if action == "transfer" and (to_service_id is None) == (to_counter_id is None):
            raise ValidationFailed("A transfer needs exactly one target: to_service_id or to_counter_id.")
        if action != "transfer" and (to_service_id or to_counter_id):
            raise ValidationFailed(f"held_ticket={action} takes no target; use held_ticket=transfer to move it.")
        return cls(action, to_service_id, to_counter_id, to_end)


# A held ticket handed to another open counter: called there again, so the board announces the new counter.
HAND_OVER = Transition((TicketStatus.called, TicketStatus.serving), TicketStatus.called, "ticket.called", "handed over")


def staff_label(session: Session, staff_id: int | None) -> str:
    user = session.get(StaffUser, staff_id) if staff_id else None
    return (user.full_name or user.username) if user else "nobody"


def held_tickets(session: Session, counter_ids: set[int]) -> list[Ticket]:
    if not counter_ids:
        return []
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.counter_id.in_(counter_ids), IS_HELD)
            .order_by(Ticket.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _held_message(session: Session, tickets: list[Ticket], counters: dict[int, Counter], doing: str) -> str:
    parts = []
    for t in tickets:
        counter = counters.get(t.counter_id or 0) or session.get(Counter, t.counter_id)
        parts.append(f"ticket {t.number} ({t.status}) at counter {counter.name if counter else '?'}")
    what = "; ".join(parts)
    return (
        f"{doing[0].upper()}{doing[1:]} would strand {what}. Say what happens to it first: complete it, requeue it "
        "(back to the front of its queue), or transfer it to another service or to another open counter."
    )


def _occupied_message(session: Session, counter: Counter, doing: str) -> str:
    who = staff_label(session, counter.staff_id)
    return (
        f"Counter {counter.name} is taken: {who} sits there. Choose another counter, or, if {who} has left, "
        f"take it over to {doing} (it is recorded, and {who}'s screen is told)."
    )


def settle(
    session: Session, ticket: Ticket, choice: HeldChoice, counters: dict[int, Counter], actor: Principal
) -> None:
    """Apply `choice` to a held ticket (rows already locked, counters in `counters`)."""
    now = clock.utcnow()
    from_counter = ticket.counter_id
    if choice.action == "complete" or choice.action == "requeue":
        apply_transition(session, ticket, check_allowed(ticket, choice.action), actor, now=now)
        return
    if choice.to_service_id is not None:
        transfer_locked(session, ticket, service_id=choice.to_service_id, actor=actor, to_end=choice.to_end)
        return
    target = counters[choice.to_counter_id or 0]
    hand_over(session, ticket, target, actor, now=now, from_counter=from_counter)


def hand_over(
    session: Session, ticket: Ticket, target: Counter, actor: Principal, *, now: datetime, from_counter: int | None
) -> None:
    """Move a held ticket to another open counter (its row and the counter's already locked)."""
    if target.id == ticket.counter_id:
        raise ValidationFailed(f"Ticket {ticket.number} is already at counter {target.name}.")
    if target.branch_id != ticket.branch_id:
        raise ValidationFailed("A ticket can only go to a counter of its own branch.")
    if not target.active or target.staff_id is None:
        raise Conflict(f"Counter {target.name} is not open (nobody sits there); choose an open counter.")
    busy = session.scalar(select(Ticket.number).where(Ticket.counter_id == target.id, IS_HELD))
    if busy is not None:
        raise Conflict(f"Counter {target.name} already holds ticket {busy}; choose another counter.")
    ticket.counter_id = target.id
    ticket.staff_id = target.staff_id
    ticket.called_at = now
    ticket.serving_at = None
    ticket.call_count += 1
    apply_transition(session, ticket, HAND_OVER, actor, now=now, details={"handed_over_from_counter_id": from_counter})


def _leave(session: Session, counters: list[Counter]) -> None:
    now = clock.utcnow()
    for c in counters:
        end_pause(session, c, now)  # a pause belongs to the person who leaves
        c.staff_id = None
        c.opened_at = None


def _counter_events(session: Session, counters: list[Counter]) -> None:
    session.flush()
    for c in counters:
        record_event(session, "counter.updated", counter_event_data(session, c), branch_id=c.branch_id)


def sit_down(
    session: Session,
    *,
    counter_id: int,
    actor: Principal,
    take_over: bool = False,
    choice: HeldChoice | None = None,
    calling: bool = False,
    lock_ticket_id: int | None = None,
) -> Counter:
    """Seat the caller at a counter (leaving any other they sat at), by the rules above. `calling`: for call-next
    and call, which would finish the counter's ticket: one the caller never saw needs a choice. `lock_ticket_id`:
    the ticket a call will take, locked here with the rest, before any event is written."""
    staff = actor.require_staff()
    locked = lock_seats(session, staff.id, counter_id, choice.to_counter_id if choice else None)
    counter = locked[counter_id]
    actor.require_branch(counter.branch_id)
    if not counter.active:
        raise Conflict(f"Counter {counter.name} is switched off; an admin can switch it on.")
    if calling and counter.paused_at is not None:
        raise Conflict(
            f"Counter {counter.name} is paused ({counter.pause_reason or 'pause'}). Resume it to call customers."
        )
    previous = counter.staff_id
    if previous is not None and previous != staff.id and not take_over:
        raise CounterOccupied(_occupied_message(session, counter, "sit down here"))
    leaving = [c for c in locked.values() if c.staff_id == staff.id and c.id != counter.id]
    stranding = {c.id for c in leaving}
    if calling and previous != staff.id:
        stranding.add(counter.id)  # call-next would finish a ticket nobody showed this caller
    # Every ticket this request may touch is locked before anything is written (the ticket to call too).
    tickets = [t for t in held_tickets(session, stranding | {counter.id}) if t.counter_id in stranding]
    if lock_ticket_id is not None:
        get_ticket(session, lock_ticket_id, lock=True)
    if tickets and choice is None:
        doing = f"moving to counter {counter.name}" if leaving else f"calling at counter {counter.name}"
        raise TicketHeld(_held_message(session, tickets, locked, doing))
    for ticket in tickets:
        settle(session, ticket, choice, locked, actor)  # type: ignore[arg-type]  # choice is set when tickets are
    _leave(session, leaving)
    changed = list(leaving)
    if previous != staff.id:
        counter.staff_id = staff.id
        counter.opened_at = clock.utcnow()
        changed.append(counter)
    _counter_events(session, changed)
    if previous is not None and previous != staff.id:
        _taken_over(session, counter, previous, staff.id, actor)
    return counter


def open_counter(
    session: Session, *, counter_id: int, actor: Principal, take_over: bool = False, choice: HeldChoice | None = None
) -> Counter:
    """Staff sit down at a counter (`sit_down`), which they will be offered first next time."""
    counter = sit_down(session, counter_id=counter_id, actor=actor, take_over=take_over, choice=choice)
    staff = session.get(StaffUser, actor.require_staff().id)
    assert staff is not None
    staff.last_counter_id = counter.id
    record_change(session, actor, "counter.open", {"counter_id": counter.id})
    return counter


def _taken_over(session: Session, counter: Counter, previous: int, staff_id: int, actor: Principal) -> None:
    data = fields_of(
        CounterTakenOver, counter, counter_id=counter.id, counter_name=counter.name, previous_staff_id=previous,
        staff_id=staff_id,
    )  # fmt: skip
    record_event(session, "counter.taken_over", data, branch_id=counter.branch_id)
    record_change(session, actor, "counter.take_over", {"counter_id": counter.id, "previous_staff_id": previous})


def close(
    session: Session, *, counter_id: int, actor: Principal, take_over: bool = False, choice: HeldChoice | None = None
) -> Counter:
    """Leave (close) a counter. Someone else's counter needs `take_over`; a held ticket needs a choice."""
    staff = actor.require_staff()
    lock_person(session, staff.id)  # the lock order (wins.counters.locks): the person, then the counters
    locked = lock_counters(
        session, {counter_id} | ({choice.to_counter_id} if choice and choice.to_counter_id else set())
    )
    counter = locked[counter_id]
    previous = counter.staff_id
    if previous is not None and previous != staff.id and not take_over:
        raise CounterOccupied(_occupied_message(session, counter, "close it"))
    tickets = held_tickets(session, {counter.id})
    if tickets and choice is None:
        raise TicketHeld(_held_message(session, tickets, locked, f"closing counter {counter.name}"))
    for ticket in tickets:
        settle(session, ticket, choice, locked, actor)  # type: ignore[arg-type]
    _leave(session, [counter])
    _counter_events(session, [counter])
    if previous is not None and previous != staff.id:
        _taken_over(session, counter, previous, staff.id, actor)
    record_change(session, actor, "counter.close", {"counter_id": counter.id})
    return counter


def leave_all(session: Session, *, staff_id: int, actor: Principal, choice: HeldChoice | None = None) -> None:
    """Signing out: leave every counter `staff_id` sits at (a held ticket needs a choice)."""
    locked = lock_seats(session, staff_id, choice.to_counter_id if choice else None)
    leaving = [c for c in locked.values() if c.staff_id == staff_id]
    if not leaving:
        return
    tickets = held_tickets(session, {c.id for c in leaving})
    if tickets and choice is None:
        raise TicketHeld(_held_message(session, tickets, locked, "signing out"))
    for ticket in tickets:
        settle(session, ticket, choice, locked, actor)  # type: ignore[arg-type]
    _leave(session, leaving)
    _counter_events(session, leaving)
    for c in leaving:
        record_change(session, actor, "counter.close", {"counter_id": c.id, "sign_out": True})


def is_manager(actor: Principal) -> bool:
    return actor.staff is not None and Role(actor.staff.role).rank >= Role.manager.rank


def seated_ticket(session: Session, staff_id: int) -> dict[str, Any] | None:
    """The ticket held at the counter `staff_id` sits at, if any (for the sign-out page)."""
    row = session.execute(
        select(Ticket, Counter)
        .join(Counter, Counter.id == Ticket.counter_id)
        .where(Counter.staff_id == staff_id, IS_HELD)
    ).first()
    if row is None:
        return None
    ticket, counter = row
    return {
        "id": ticket.id,
        "number": ticket.number,
        "status": ticket.status,
        "service_id": ticket.service_id,
        "counter_id": counter.id,
        "counter_name": counter.name,
        "branch_id": counter.branch_id,
    }
