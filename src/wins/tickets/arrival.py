"""Arrival check-in (issue 17): a remote ticket of a service with `arrival_checkin` keeps its place in the queue but
is called only once the customer says "I'm here" on site (the code on the waiting-room screen proves it) or staff
mark it arrived. Call-next passes over such a ticket at the front of its queue (`pass_over`); still not checked in
`checkin_grace_minutes` after it was first passed over, it ends as a no-show.

Concurrency: call-next takes the passed-over rows with `FOR UPDATE SKIP LOCKED` on PostgreSQL (a check-in or
another counter's call-next in flight on a row is left to finish, never waited for, so two counters neither
deadlock nor both act on one ticket); on SQLite write transactions are serial (`BEGIN IMMEDIATE`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from wins import clock
from wins.audit.service import record as audit
from wins.auth import Principal
from wins.config import Settings
from wins.counters.models import Counter
from wins.errors import Conflict, InvalidTransition, PermissionDenied, TooManyAttempts
from wins.events.service import record_event
from wins.join.models import DEFAULT_CHECKIN_GRACE_MINUTES, ServiceRemote
from wins.staff.models import Role
from wins.tickets.models import Ticket, TicketStatus
from wins.tickets.states import MISSED_CHECKIN
from wins.tickets.transitions import apply_transition
from wins.tickets.views import get_by_tracking_token, get_ticket, ticket_event_data

# How far down the queue call-next looks for passed-over tickets ahead of the one it calls: more remote tickets
# than this waiting unchecked at the very front is not a queue that exists.
FRONT_SCAN = 50

# The one test of "may be called" (used by calling_order): on site, or checked in.
ARRIVED = or_(Ticket.checkin_required.is_(False), Ticket.checked_in_at.is_not(None))


def grace(session: Session, service_id: int) -> timedelta:
    row = session.get(ServiceRemote, service_id)
    return timedelta(minutes=row.checkin_grace_minutes if row is not None else DEFAULT_CHECKIN_GRACE_MINUTES)


def arrival_state(ticket: Ticket) -> str | None:
    """None (no check-in needed), needed, passed_over, checked_in, or missed (ended as no-show for it)."""
    if not ticket.checkin_required:
        return None
    if ticket.checked_in_at is not None:
        return "checked_in"
    if ticket.status == TicketStatus.no_show:
        return "missed"
    return "passed_over" if ticket.passed_over_at is not None else "needed"


def arrival_fields(session: Session, ticket: Ticket) -> dict[str, Any]:
    """The `arrival` and `checkin_deadline` of a ticket's views (staff and phone)."""
    state = arrival_state(ticket)
    deadline = None
    if state == "passed_over" and ticket.status == TicketStatus.waiting and ticket.passed_over_at is not None:
        deadline = (ticket.passed_over_at + grace(session, ticket.service_id)).isoformat()
    return {"arrival": state, "checkin_deadline": deadline}


# -- checking in ----------------------------------------------------------------------------------------------


def check_in_by_customer(session: Session, *, tracking_token: str, code: str, settings: Settings) -> Ticket:
    """The customer's "I'm here" from the tracking page: `code` is the current join key (the QR code's link) or
    its 6-digit short code (typed from the screen). Checking in twice is harmless."""
    from wins.join import service as join

    found = get_by_tracking_token(session, tracking_token)
    ticket = get_ticket(session, found.id, lock=True)
    if not ticket.checkin_required or ticket.checked_in_at is not None:
        return ticket
    _check_open(session, ticket, clock.utcnow())
    attempts = f"ticket:{ticket.tracking_token}"
    too_many = "Too many wrong codes for this ticket. Please show your ticket at the desk to check in."
    if join.CHECKIN_ATTEMPTS.blocked(attempts, limit=join.CHECKIN_WRONG_PER_HOUR):
        raise TooManyAttempts(too_many)
    try:
        join.check_arrival(
            code, secret=settings.effective_secret_key, branch_id=ticket.branch_id, minutes=settings.join_key_minutes
        )
    except PermissionDenied:
        join.CHECKIN_ATTEMPTS.check(attempts, limit=join.CHECKIN_WRONG_PER_HOUR + 1, message=too_many)
        raise
    _mark_arrived(session, ticket, Principal(), by="customer")
    return ticket


def check_in_by_staff(session: Session, *, ticket_id: int, actor: Principal) -> Ticket:
    """Staff (reception and up, in the ticket's branch) mark a remote ticket arrived: the customer is at the desk."""
    actor.require_staff(Role.reception)
    ticket = get_ticket(session, ticket_id, lock=True)
    actor.require_branch(ticket.branch_id, Role.reception)
    if ticket.checked_in_at is not None:
        return ticket
    if ticket.status != TicketStatus.waiting:
        raise InvalidTransition(
            f"Ticket {ticket.number} is {ticket.status.replace('_', '-')}: only a waiting ticket can be checked in."
        )
    _mark_arrived(session, ticket, actor, by="staff")
    return ticket


def _check_open(session: Session, ticket: Ticket, now: datetime) -> None:
    if ticket.status != TicketStatus.waiting:
        if ticket.status == TicketStatus.no_show:
            raise InvalidTransition(
                f"Ticket {ticket.number} was not checked in in time and has ended. Please ask at the desk."
            )
        raise InvalidTransition(f"Ticket {ticket.number} is {ticket.status.replace('_', '-')}: no check-in needed.")
    if ticket.passed_over_at is not None and now >= ticket.passed_over_at + grace(session, ticket.service_id):
        raise Conflict(f"Too late to check in ticket {ticket.number}: its turn has passed. Please ask at the desk.")


def _mark_arrived(session: Session, ticket: Ticket, actor: Principal, *, by: str) -> None:
    ticket.checked_in_at = clock.utcnow()
    session.flush()
    record_event(session, "ticket.checked_in", ticket_event_data(session, ticket), branch_id=ticket.branch_id)
    if actor.staff is not None:
        audit(session, actor=actor, action="ticket.checked_in", ticket_id=ticket.id, details={"by": by})


# -- call-next ------------------------------------------------------------------------------------------------


def asked_at(counter: Counter) -> bool:
    """Whether a service `counter` calls asks for arrival check-in, from its links' remote settings (loaded with
    the counter in the call's own transaction, so a setting changed on another worker or host counts at once).
    No: call-next skips `pass_over` and its scan of the queue's front. Switching check-in off clears what the
    service's waiting tickets still wait for (wins.join.service.set_remote), so none is left stuck unseen."""
    return any(link.remote is not None and link.remote.arrival_checkin for link in counter.service_links)


def pass_over(session: Session, order: Any, *, actor: Principal, now: datetime, postgres: bool) -> None:
    """Call-next's part (before it claims): the tickets at the front of `order` (a counter's `calling_order`,
    every waiting ticket) that wait for check-in and come before the first one that may be called. Passed over
    for the first time: `passed_over_at` is set (their phones say so). Past their grace time: no-show."""
    rows = session.execute(
        order.with_only_columns(Ticket.id, Ticket.checkin_required, Ticket.checked_in_at).limit(FRONT_SCAN)
    ).all()
    front: list[int] = []
    for ticket_id, required, checked_in_at in rows:
        if not required or checked_in_at is not None:
            break
        front.append(ticket_id)
    if not front:
        return
    query = (
        select(Ticket)
        .where(
            Ticket.id.in_(front),
            and_(Ticket.status == TicketStatus.waiting, Ticket.checked_in_at.is_(None)),
        )
        .order_by(Ticket.id)
        .execution_options(populate_existing=True)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    for ticket in session.scalars(query).all():
        if ticket.passed_over_at is None:
            ticket.passed_over_at = now
            session.flush()
            record_event(session, "ticket.passed_over", ticket_event_data(session, ticket), branch_id=ticket.branch_id)
        elif now >= ticket.passed_over_at + grace(session, ticket.service_id):
            apply_transition(session, ticket, MISSED_CHECKIN, actor, now=now, details={"reason": "not_checked_in"})
