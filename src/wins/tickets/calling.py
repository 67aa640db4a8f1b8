"""Call-next and calling a ticket out of order: finish what the counter holds, then claim the next waiting ticket
it serves, in the documented order (priority, the priority category's weight, service weight, the counter's service
order, time in the queue: `calling_order`).

Concurrency: the counter row is locked; on PostgreSQL the ticket is claimed with `FOR UPDATE SKIP LOCKED`, so
two counters never get one ticket; on SQLite every write transaction is `BEGIN IMMEDIATE`, so claims are serial.
A partial unique index allows one held ticket per counter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, literal, select
from sqlalchemy.orm import Session

from wins import clock
from wins.audit.service import record as audit
from wins.auth import Principal
from wins.branches.models import Branch
from wins.branches.service import get_branch, today
from wins.counters.models import Counter, CounterService
from wins.counters.seating import HeldChoice, sit_down
from wins.errors import InvalidTransition, NotFound
from wins.services.models import Service
from wins.tickets import arrival
from wins.tickets.models import HELD, IS_HELD, Ticket, TicketStatus
from wins.tickets.states import CALL, FINISH_HELD
from wins.tickets.transitions import apply_transition
from wins.tickets.views import get_ticket

# -- calling ------------------------------------------------------------------------------------------


def _finish_held(session: Session, counter: Counter, actor: Principal, now: datetime) -> None:
    held = session.scalars(select(Ticket).where(Ticket.counter_id == counter.id, IS_HELD).with_for_update()).all()
    for ticket in held:
        apply_transition(session, ticket, FINISH_HELD, actor, now=now)


def category_weights(settings: dict[str, Any]) -> dict[str, int]:
    """Each named priority category's weight (the branch setting `priority_categories`). A malformed entry is
    skipped, so a bad setting never stops calling (the setting is checked when it is saved)."""
    weights: dict[str, int] = {}
    for entry in settings.get("priority_categories") or []:
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            weight = entry.get("weight", 0)
            weights[entry["key"]] = weight if isinstance(weight, int) else 0
    return weights


def category_labels(settings: dict[str, Any], language: str = "en") -> dict[str, str]:
    """Each named priority category's label for staff screens (in `language`, else its first one)."""
    labels: dict[str, str] = {}
    for entry in settings.get("priority_categories") or []:
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            label = entry.get("label")
            if isinstance(label, dict):
                label = label.get(language) or next(iter(label.values()), None)
            labels[entry["key"]] = label if isinstance(label, str) and label else entry["key"]
    return labels


def category_weight(weights: dict[str, int]) -> Any:
    """The SQL expression of a ticket's category weight (0 without a category)."""
    if not weights:
        return literal(0)
    return case(weights, value=Ticket.priority_category, else_=0)


def calling_order(counter: Counter, day: Any, weights: dict[str, int], *, arrived_only: bool = True) -> Any:
    """The waiting tickets `counter` takes, in the order call-next takes them: priority first, then the priority
    category's weight, the service's weight, the counter's service order, time in the queue. The one home of
    this rule: call-next uses it, and so does the workspace's "next" marker (`next_for_counter`).
    `arrived_only`: without the remote tickets still waiting for arrival check-in (wins.tickets.arrival), which
    keep their place in this order but are not called."""
    query = (
        select(Ticket)
        .join(
            CounterService, (CounterService.service_id == Ticket.service_id) & (CounterService.counter_id == counter.id)
        )
        .join(Service, Service.id == Ticket.service_id)
        # No `Service.active` test: a service that stopped issuing still has its waiting tickets called (issue 13).
        .where(Ticket.status == TicketStatus.waiting, Ticket.business_day == day)
        .order_by(
            Ticket.priority.desc(),
            category_weight(weights).desc(),
            Service.priority_weight.desc(),
            CounterService.position,
            Ticket.queue_at,
            Ticket.id,
        )
    )
    return query.where(arrival.ARRIVED) if arrived_only else query


def _waiting_query(counter: Counter, branch: Branch, *, postgres: bool) -> Any:
    query = calling_order(counter, today(branch), category_weights(branch.settings)).limit(1)
    if postgres:
        # Another counter's claim in flight is skipped, not waited for: no two counters get one ticket.
        query = query.with_for_update(skip_locked=True, of=Ticket)
    return query


def next_for_counter(session: Session, counter: Counter, branch: Branch) -> int | None:
    """The id of the ticket call-next would take at `counter` now (read only; nothing is claimed)."""
    if not counter.active or counter.paused_at is not None:
        return None
    ticket_id: int | None = session.scalar(
        calling_order(counter, today(branch), category_weights(branch.settings)).with_only_columns(Ticket.id).limit(1)
    )
    return ticket_id


def call_next(
    session: Session,
    *,
    counter_id: int,
    actor: Principal,
    take_over: bool = False,
    choice: HeldChoice | None = None,
) -> Ticket | None:
    """Finish what the counter holds, then call the next waiting ticket it serves (None if nobody waits). The
    caller sits down at the counter first (wins.counters.seating: occupied counters and held tickets)."""
    counter = sit_down(session, counter_id=counter_id, actor=actor, take_over=take_over, choice=choice, calling=True)
    branch = get_branch(session, counter.branch_id)
    now = clock.utcnow()
    _finish_held(session, counter, actor, now)
    if arrival.asked_at(counter):  # else nothing at the front waits for check-in: no scan
        everyone = calling_order(counter, today(branch), category_weights(branch.settings), arrived_only=False)
        arrival.pass_over(session, everyone, actor=actor, now=now, postgres=_is_pg(session))
    ticket: Ticket | None = session.scalar(_waiting_query(counter, branch, postgres=_is_pg(session)))
    if ticket is None:
        audit(session, actor=actor, action="counter.call_next_empty", details={"counter_id": counter.id})
        return None
    _call(session, ticket, counter, actor, now)
    return ticket


def call_ticket(
    session: Session,
    *,
    counter_id: int,
    ticket_id: int,
    actor: Principal,
    take_over: bool = False,
    choice: HeldChoice | None = None,
) -> Ticket:
    """Call one waiting ticket out of order (the counter's current ticket is finished first)."""
    # A ticket of another branch is refused before anything is locked or asked. Column reads: they take no lock
    # and leave no ORM object behind for the locked reads below to find stale.
    ticket_branch = session.scalar(select(Ticket.branch_id).where(Ticket.id == ticket_id))
    counter_row = session.execute(select(Counter.branch_id, Counter.name).where(Counter.id == counter_id)).first()
    if ticket_branch is not None and counter_row is not None and ticket_branch != counter_row.branch_id:
        raise NotFound(f"Ticket {ticket_id} is not in counter {counter_row.name}'s branch.")
    counter = sit_down(
        session,
        counter_id=counter_id,
        actor=actor,
        take_over=take_over,
        choice=choice,
        calling=True,
        lock_ticket_id=ticket_id,
    )
    ticket = get_ticket(session, ticket_id)
    if ticket.branch_id != counter.branch_id:
        raise NotFound(f"Ticket {ticket_id} is not in counter {counter.name}'s branch.")
    if ticket.status != TicketStatus.waiting:
        raise InvalidTransition(_not_waiting_message(session, ticket))
    now = clock.utcnow()
    _finish_held(session, counter, actor, now)
    _call(session, ticket, counter, actor, now, details={"out_of_order": True})
    return ticket


def _call(
    session: Session,
    ticket: Ticket,
    counter: Counter,
    actor: Principal,
    now: datetime,
    *,
    details: dict[str, Any] | None = None,
) -> None:
    assert actor.staff is not None
    ticket.counter_id = counter.id
    ticket.staff_id = actor.staff.id
    ticket.called_at = now
    ticket.first_called_at = ticket.first_called_at or now
    ticket.call_count += 1
    ticket.serving_at = None
    apply_transition(session, ticket, CALL, actor, now=now, details=details)


def _not_waiting_message(session: Session, ticket: Ticket) -> str:
    if ticket.status in HELD and ticket.counter_id:
        counter = session.get(Counter, ticket.counter_id)
        return f"Ticket {ticket.number} was already called to counter {counter.name if counter else '?'}."
    return f"Ticket {ticket.number} is {ticket.status.replace('_', '-')}, not waiting."


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
