"""The ticket state machine, as one table: which status each staff action (and the customer's cancel) starts from,
which status it leads to, the event it writes and how a refusal words it. The services read it; nothing else
decides whether a transition is allowed. (tests/faults/test_properties.py keeps its own copy as its oracle.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from wins.errors import InvalidTransition
from wins.tickets.models import Ticket, TicketStatus

W, C, S = TicketStatus.waiting, TicketStatus.called, TicketStatus.serving

Action = Literal["recall", "start", "complete", "no-show", "requeue", "cancel", "transfer"]


@dataclass(frozen=True)
class Transition:
    sources: tuple[TicketStatus, ...]  # the statuses the action is allowed from
    target: TicketStatus
    event: str  # the event (and audit action) it writes
    done: str  # completes "only a <source> ticket can be …" in a refusal
    # What else changes on the ticket (given the time); returns extra audit details. Calls and transfers need
    # more than the ticket (a counter, a service) and set their fields in their service functions.
    apply: Callable[[Ticket, datetime], dict[str, Any] | None] | None = None


def _recall(ticket: Ticket, now: datetime) -> None:
    ticket.call_count += 1
    ticket.called_at = now


def _start(ticket: Ticket, now: datetime) -> None:
    ticket.serving_at = now


def _complete(ticket: Ticket, now: datetime) -> None:
    ticket.serving_at = ticket.serving_at or ticket.called_at or now


def _requeue(ticket: Ticket, _now: datetime) -> dict[str, Any]:
    previous_counter = ticket.counter_id
    ticket.counter_id = None
    ticket.serving_at = None
    return {"from_counter_id": previous_counter}


TRANSITIONS: dict[Action, Transition] = {
    "recall": Transition((C,), C, "ticket.recalled", "recalled", _recall),
    "start": Transition((C,), S, "ticket.serving", "started", _start),
    "complete": Transition((C, S), TicketStatus.done, "ticket.done", "completed", _complete),
    "no-show": Transition((C,), TicketStatus.no_show, "ticket.no_show", "marked no-show"),
    "requeue": Transition((C, S), W, "ticket.requeued", "requeued", _requeue),
    "cancel": Transition((W,), TicketStatus.cancelled, "ticket.cancelled", "cancelled"),
    "transfer": Transition((W, C, S), W, "ticket.transferred", "sent to another service"),
}

# Calling is not a staff action on a ticket id (it goes through a counter), but follows the same rules.
CALL = Transition((W,), C, "ticket.called", "called")
FINISH_HELD = TRANSITIONS["complete"]  # call-next first completes the ticket the counter holds

# Arrival check-in (wins.tickets.arrival): a remote ticket still not checked in its grace time after it reached
# the front of its queue ends as a no-show, straight from waiting. Not a staff action either.
MISSED_CHECKIN = Transition((W,), TicketStatus.no_show, "ticket.no_show", "marked no-show")

FINISHED = (TicketStatus.done, TicketStatus.no_show, TicketStatus.cancelled)  # these set finished_at

# End of day is not a staff action: at the branch's rollover (or closing time) every ticket of the ended day still
# in one of these statuses becomes `expired` with this event (wins.tickets.expiry). Final like done: no row of
# TRANSITIONS starts from it, so every staff action on an expired ticket is refused with the usual wording.
EXPIRE = Transition((W, C, S), TicketStatus.expired, "ticket.expired", "expired")


def check_allowed(ticket: Ticket, action: Action) -> Transition:
    """The table's row for `action`, or InvalidTransition (409) if the ticket's status does not allow it."""
    rule = TRANSITIONS[action]
    if ticket.status not in rule.sources:
        allowed = " or ".join(s.value.replace("_", "-") for s in rule.sources)
        raise InvalidTransition(
            f"Cannot {action} ticket {ticket.number}: it is {ticket.status.replace('_', '-')} "
            f"(only a {allowed} ticket can be {rule.done})."
        )
    return rule
