"""Moving a ticket along the state machine (wins.tickets.states): staff actions (recall, start, complete, no-show,
requeue, cancel), the customer's own cancel, transfers to another service, and undoing the last of these for a few
seconds. Each change writes its event and, for staff, its audit entry."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wins import clock, db_flags
from wins.audit.models import AuditEntry
from wins.audit.service import record as audit
from wins.auth import Principal
from wins.counters.models import Counter
from wins.errors import Conflict, InvalidTransition, ValidationFailed
from wins.events.service import record_event
from wins.services.service import get_service
from wins.tickets.models import HELD, IS_HELD, Ticket, TicketStatus
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
    undo_from: dict[str, Any] | None = None,
) -> None:
    """Move the ticket along `rule` (already checked), then write its event and the staff's audit entry.
    `undo_from`: the ticket's state before the action (`undo_state`), kept in the audit entry with the state after
    it, so the same person can undo it for a few seconds (`undo`)."""
    event = rule.event
    if rule.apply is not None:
        details = {**(rule.apply(ticket, now) or {}), **(details or {})} or None
    ticket.status = rule.target
    db_flags.note_load_changed(session)
    if rule.target in FINISHED:
        ticket.finished_at = now
    session.flush()
    if undo_from is not None:
        details = {**(details or {}), "undo": {"before": undo_from, "after": undo_state(ticket)}}
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
    before = undo_state(ticket) if rule.event in UNDOABLE else None
    apply_transition(session, ticket, rule, actor, now=clock.utcnow(), undo_from=before)
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
    before = undo_state(ticket)
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
        undo_from=before,
    )
    return ticket


# -- undo ---------------------------------------------------------------------------------------------
# Done, No-show, Requeue and Transfer sit on neighbouring keys, and a no-show is final: the person who did one
# can take it back for `WINS_UNDO_SECONDS`, as long as nothing else touched the ticket since. The audit entry of
# the action holds the state before and after it; the undo restores "before" and writes its own entry and event.

UNDOABLE = frozenset({"ticket.done", "ticket.no_show", "ticket.requeued", "ticket.transferred"})
_UNDO_FIELDS = ("status", "service_id", "counter_id", "serving_at", "finished_at", "queue_at", "transfer_count")


def undo_state(ticket: Ticket) -> dict[str, Any]:
    """What an undo puts back (times as ISO text: the audit details are JSON)."""
    state: dict[str, Any] = {}
    for name in _UNDO_FIELDS:
        value = getattr(ticket, name)
        state[name] = value.isoformat() if isinstance(value, datetime) else value
    return state


def undo(session: Session, *, ticket_id: int, actor: Principal, window_seconds: int) -> Ticket:
    """Take back the caller's last Done, No-show, Requeue or Transfer of this ticket, within the window.
    409 when it is too late, the last change was someone else's (or not undoable), or the ticket moved since."""
    staff = actor.require_staff()
    ticket = get_ticket(session, ticket_id, lock=True)
    last = session.scalar(
        select(AuditEntry).where(AuditEntry.ticket_id == ticket.id).order_by(AuditEntry.id.desc()).limit(1)
    )
    if last is not None and last.staff_id != staff.id:
        raise Conflict(f"The last change to ticket {ticket.number} was made by someone else; only they can undo it.")
    record = (last.details or {}).get("undo") if last is not None and last.action in UNDOABLE else None
    if last is None or not isinstance(record, dict):
        raise Conflict(f"There is nothing to undo on ticket {ticket.number}: its last change cannot be undone.")
    age = (clock.utcnow() - last.at).total_seconds()
    if age > window_seconds:
        raise Conflict(
            f"Too late to undo ticket {ticket.number} (undo lasts {window_seconds} s). Call it again by its number "
            "if it should come back."
        )
    if undo_state(ticket) != record["after"]:
        raise Conflict(
            f"Ticket {ticket.number} has changed since (it is {ticket.status.replace('_', '-')}); not undone."
        )
    before = record["before"]
    counter_id = before["counter_id"]
    if before["status"] in HELD and counter_id is not None:
        holder = session.scalar(select(Ticket).where(Ticket.counter_id == counter_id, IS_HELD, Ticket.id != ticket.id))
        if holder is not None:
            raise Conflict(
                f"Counter {_counter_name(session, counter_id)} holds ticket {holder.number} now; finish it before "
                f"undoing {ticket.number}."
            )
    for name in _UNDO_FIELDS:
        value = before[name]
        if name.endswith("_at") and value is not None:
            value = datetime.fromisoformat(value)
        setattr(ticket, name, value)
    db_flags.note_load_changed(session)
    session.flush()
    record_event(session, "ticket.restored", ticket_event_data(session, ticket), branch_id=ticket.branch_id)
    audit(
        session,
        actor=actor,
        action="ticket.undo",
        ticket_id=ticket.id,
        details={"undid": last.action, "audit_id": last.id, "counter_id": ticket.counter_id},
    )
    logger.info("undo of %s on %s by %s", last.action, ticket.number, actor.label)
    return ticket


def _counter_name(session: Session, counter_id: int) -> str:
    counter = session.get(Counter, counter_id)
    return counter.name if counter else str(counter_id)
