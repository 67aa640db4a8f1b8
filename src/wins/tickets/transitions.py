"""Moving a ticket along the state machine (wins.tickets.states): staff actions (recall, start, complete, no-show,
requeue, cancel), the customer's own cancel, and transfers to another service. Each change writes its event and,
for staff, its audit entry."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from wins import clock, db_flags
from wins.audit.service import record as audit
from wins.auth import Principal
from wins.errors import Conflict, InvalidTransition, ValidationFailed
from wins.events.service import record_event
from wins.services.service import get_service
from wins.tickets.models import Ticket, TicketStatus
from wins.tickets.states import FINISHED, Action, Transition, check_allowed
from wins.tickets.views import get_by_tracking_token, get_ticket, ticket_event_data

logger = logging.getLogger("wins.tickets.service")  # the logger name operators know from before the split


# -- transitions --------------------------------------------------------------------------------------


def apply_transition(
    session: Session,
    ticket: Ticket,
    rule: Transition,
    actor: Principal,
    *,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Move the ticket along `rule` (already checked), then write its event and the staff's audit entry."""
    event = rule.event
    if rule.apply is not None:
        details = {**(rule.apply(ticket, now) or {}), **(details or {})} or None
    ticket.status = rule.target
    db_flags.note_load_changed(session)
    if rule.target in FINISHED:
        ticket.finished_at = now
    session.flush()
    data = ticket_event_data(session, ticket)
    record_event(session, event, data, branch_id=ticket.branch_id)
    if actor.staff is not None:
        audit(
            session,
            actor=actor,
            action=event,
            ticket_id=ticket.id,
            details={"counter_id": ticket.counter_id, **(details or {})},
        )
    logger.info("%s %s (counter %s) by %s", event, ticket.number, data["counter_name"], actor.label)


def transition(session: Session, *, ticket_id: int, action: Action, actor: Principal) -> Ticket:
    """recall | start | complete | no-show | requeue | cancel (staff)."""
    actor.require_staff()
    if action == "transfer":
        raise ValidationFailed("A transfer needs a target service (POST …/transfer).")
    ticket = get_ticket(session, ticket_id, lock=True)
    actor.require_branch(ticket.branch_id)
    rule = check_allowed(ticket, action)
    apply_transition(session, ticket, rule, actor, now=clock.utcnow())
    return ticket


def cancel_by_customer(session: Session, *, tracking_token: str) -> Ticket:
    """The customer says "I'm leaving" from the tracking page."""
    ticket = get_by_tracking_token(session, tracking_token)
    if ticket.status == TicketStatus.cancelled:
        return ticket
    rule = check_allowed(ticket, "cancel")
    apply_transition(session, ticket, rule, Principal(), now=clock.utcnow(), details={"by": "customer"})
    return ticket


def transfer(session: Session, *, ticket_id: int, service_id: int, actor: Principal, to_end: bool = False) -> Ticket:
    """Send an open ticket to another service's queue. It keeps its number and, unless `to_end`, its place."""
    actor.require_staff()
    return transfer_locked(
        session, get_ticket(session, ticket_id, lock=True), service_id=service_id, actor=actor, to_end=to_end
    )


def transfer_locked(
    session: Session, ticket: Ticket, *, service_id: int, actor: Principal, to_end: bool = False
) -> Ticket:
    """`transfer` of a ticket whose row the caller has locked (wins.counters.seating: counters first)."""
    actor.require_branch(ticket.branch_id)
    rule = check_allowed(ticket, "transfer")
    target = get_service(session, service_id)
    if target.branch_id != ticket.branch_id:
        raise ValidationFailed("A ticket can only move to a service of its own branch.")
    if target.id == ticket.service_id and ticket.status == TicketStatus.waiting:
        raise InvalidTransition(f"Ticket {ticket.number} is already waiting for {target.name}.")
    if not target.active:
        raise Conflict(f"{target.name} is not taking tickets right now.")
    now = clock.utcnow()
    from_service, from_counter = ticket.service_id, ticket.counter_id
    ticket.service_id = target.id
    ticket.counter_id = None
    ticket.serving_at = None
    ticket.transfer_count += 1
    if to_end:
        ticket.queue_at = now
    apply_transition(
        session,
        ticket,
        rule,
        actor,
        now=now,
        details={"from_service_id": from_service, "from_counter_id": from_counter, "to_end": to_end},
    )
    return ticket
