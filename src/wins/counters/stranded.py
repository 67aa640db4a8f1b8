"""Stranded tickets: customers called to a counter where nobody will finish them, for the manager to fix.

A ticket is stranded when it is held (called or serving) at a counter where nobody sits, or at a counter that
was switched off. A browser that crashed, or a colleague who went home without leaving, leaves someone seated:
their ticket shows here too once nothing has happened to it for a while (`no_action`: called and not started
for CALLED_TOO_LONG, or served for SERVING_TOO_LONG), so it never stays stuck out of sight. The manager
requeues it (`POST /api/v1/tickets/{id}/requeue`) or hands it to an open counter (`reassign`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wins import clock
from wins.branches.service import get_branch
from wins.counters.locks import lock_counters
from wins.counters.models import Counter
from wins.counters.seating import hand_over, staff_label
from wins.errors import Conflict
from wins.schemas import StrandedTicket, fields_of
from wins.services.models import Service
from wins.tickets.models import IS_HELD, Ticket
from wins.tickets.views import get_ticket

if TYPE_CHECKING:
    from wins.auth import Principal

CALLED_TOO_LONG = timedelta(minutes=10)  # called, the customer never arrived and nobody pressed anything
SERVING_TOO_LONG = timedelta(minutes=60)  # longer than any ordinary visit

EXPLAIN = {
    "nobody_seated": "Nobody sits at counter {counter} any more: this customer waits for no one.",
    "counter_switched_off": "Counter {counter} was switched off while it held this ticket.",
    "no_action": "{staff} sits at counter {counter}, but nothing has happened to this ticket for {minutes} min: "
    "the workspace may have crashed, or they left without leaving the counter.",
}


def stranded_tickets(session: Session, *, branch_id: int | None = None) -> list[dict[str, Any]]:
    """The branch's stranded tickets, longest held first."""
    branch = get_branch(session, branch_id)
    now = clock.utcnow()
    rows = session.execute(
        select(Ticket, Counter)
        .join(Counter, Counter.id == Ticket.counter_id)
        .where(Ticket.branch_id == branch.id, IS_HELD)
        .order_by(Ticket.called_at, Ticket.id)
    ).all()
    out = []
    for ticket, counter in rows:
        since = ticket.serving_at or ticket.called_at or ticket.issued_at
        held = now - since
        if not counter.active:
            reason = "counter_switched_off"
        elif counter.staff_id is None:
            reason = "nobody_seated"
        elif held > (SERVING_TOO_LONG if ticket.serving_at else CALLED_TOO_LONG):
            reason = "no_action"
        else:
            continue
        service = session.get(Service, ticket.service_id)
        who = staff_label(session, counter.staff_id) if counter.staff_id else None
        out.append(
            fields_of(
                StrandedTicket,
                ticket,
                service_name=service.name if service else None,
                counter_id=counter.id,
                counter_name=counter.name,
                staff_name=who,
                held_since=since.isoformat(),
                held_seconds=int(held.total_seconds()),
                reason=reason,
                explanation=EXPLAIN[reason].format(
                    counter=counter.name, staff=who, minutes=int(held.total_seconds() // 60)
                ),
            )
        )
    return out


def reassign(session: Session, *, ticket_id: int, counter_id: int, actor: Principal) -> Ticket:
    """Hand a held ticket to another open counter that holds none (manager): it is called there."""
    found = get_ticket(session, ticket_id)
    source = found.counter_id
    locked = lock_counters(session, {counter_id} | ({source} if source else set()))  # counters first
    ticket = get_ticket(session, ticket_id, lock=True)
    if ticket.counter_id != source:
        raise Conflict(f"Ticket {ticket.number} moved while you were choosing; reload and try again.")
    if ticket.status not in ("called", "serving"):
        raise Conflict(
            f"Ticket {ticket.number} is {ticket.status.replace('_', '-')}: only a ticket held at a counter can be "
            "reassigned (requeue or transfer a waiting one)."
        )
    hand_over(session, ticket, locked[counter_id], actor, now=clock.utcnow(), from_counter=source)
    return ticket
