"""Retiring a service: delete a never-used one, archive a used one (issue 13).

"Stop issuing" is `active = False` (services.service.update_service): no new tickets, the waiting ones are still
called. Archiving is final for the screens: the service disappears from kiosks, displays, the workspace and the
admin lists but stays in the tickets' history and in reports. Nobody may be left waiting for a service nobody
will ever call, so archiving asks what happens to today's waiting tickets (moved to another service, keeping
their place, or cancelled) and does it in the same transaction.

A separate module from services.service because it moves tickets (tickets.transitions imports services.service).
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.orm import Session

from wins import clock
from wins.audit.service import record_change
from wins.auth import Principal, check_branch
from wins.branches.service import get_branch, today
from wins.counters.models import CounterService
from wins.errors import Conflict, NotFound, ValidationFailed
from wins.events.service import record_event
from wins.services.models import Service
from wins.services.service import get_service, service_public
from wins.staff.models import Role
from wins.tickets.models import Ticket, TicketSequence, TicketStatus
from wins.tickets.transitions import transfer, transition

WaitingChoice = Literal["transfer", "cancel"]


def service_is_used(session: Session, service_id: int) -> bool:
    """A ticket was ever issued for it or moved to it: it belongs to history and can only be archived."""
    used = exists().where(or_(Ticket.service_id == service_id, Ticket.issued_service_id == service_id))
    return bool(session.scalar(select(used)))


def delete_service(session: Session, service_id: int, *, actor: Principal | None) -> None:
    """Delete a service no ticket ever used (a typo at set-up); a used one answers 409: archive it instead."""
    service = get_service(session, service_id)
    check_branch(actor, service.branch_id, Role.manager)
    if service_is_used(session, service.id):
        raise Conflict(
            f"{service.name} has tickets in its history, so it cannot be deleted. Archive it instead: it then "
            "disappears from kiosks and screens but stays in reports."
        )
    public = service_public(service, get_branch(session, service.branch_id))
    session.execute(delete(CounterService).where(CounterService.service_id == service.id))
    session.execute(delete(TicketSequence).where(TicketSequence.service_id == service.id))
    session.delete(service)
    session.flush()
    record_event(session, "service.deleted", {"id": public["id"], "name": public["name"]}, branch_id=service.branch_id)
    record_change(session, actor, "service.delete", {"service_id": public["id"], "name": public["name"]})


def waiting_tickets(session: Session, service: Service) -> list[Ticket]:
    """Today's tickets still waiting for the service, in queue order (older days' are the end of day's)."""
    day = today(get_branch(session, service.branch_id))
    query = (
        select(Ticket)
        .where(Ticket.service_id == service.id, Ticket.status == TicketStatus.waiting, Ticket.business_day == day)
        .order_by(Ticket.priority.desc(), Ticket.queue_at, Ticket.id)
    )
    return list(session.scalars(query))


def archive_service(
    session: Session,
    service_id: int,
    *,
    waiting: WaitingChoice | None,
    to_service_id: int | None,
    actor: Principal,
) -> Service:
    """Archive a service: it stops issuing and disappears from every screen. Its waiting tickets are first moved
    to `to_service_id` (keeping their place) or cancelled, as `waiting` says; without a choice, a service with
    people waiting answers 409 saying how many."""
    # PostgreSQL: one archive (or restore) of a service at a time; no-op on SQLite, whose writes are serial.
    service = session.scalar(select(Service).where(Service.id == service_id).with_for_update())
    if service is None:
        raise NotFound(f"Service {service_id} does not exist.")
    check_branch(actor, service.branch_id, Role.manager)
    if service.archived_at is not None:
        return service
    tickets = waiting_tickets(session, service)
    details: dict[str, object] = {"service_id": service.id, "waiting": len(tickets)}
    if tickets:
        people = "1 ticket is" if len(tickets) == 1 else f"{len(tickets)} tickets are"
        if waiting is None:
            raise Conflict(
                f"{people} still waiting for {service.name}. Move them to another service or cancel them "
                'first: archive with {"waiting": "transfer", "to_service_id": N} or {"waiting": "cancel"}, or '
                "stop issuing and archive once the queue is empty."
            )
        if waiting == "transfer":
            target = _transfer_target(session, service, to_service_id)
            for ticket in tickets:
                transfer(session, ticket_id=ticket.id, service_id=target.id, actor=actor)
            details["moved_to"] = target.id
        else:
            for ticket in tickets:
                transition(session, ticket_id=ticket.id, action="cancel", actor=actor)
            details["cancelled"] = len(tickets)
    service.active = False
    service.archived_at = clock.utcnow()
    # A counter no longer calls it; the links are configuration, not history.
    session.execute(delete(CounterService).where(CounterService.service_id == service.id))
    session.flush()
    session.expire_all()  # counters' loaded service_links
    record_event(
        session,
        "service.updated",
        service_public(service, get_branch(session, service.branch_id)),
        branch_id=service.branch_id,
    )
    record_change(session, actor, "service.archive", details)
    return service


def _transfer_target(session: Session, service: Service, to_service_id: int | None) -> Service:
    if to_service_id is None:
        raise ValidationFailed("Say which service takes the waiting tickets: to_service_id.")
    target = get_service(session, to_service_id)
    if target.id == service.id or target.branch_id != service.branch_id:
        raise ValidationFailed("Move the waiting tickets to another service of the same branch.")
    if target.archived_at is not None or not target.active:
        raise Conflict(f"{target.name} is not taking tickets; pick a service that is.")
    return target


def restore_service(session: Session, service_id: int, *, actor: Principal | None) -> Service:
    """Bring an archived service back. It comes back not issuing: switch issuing on when it is ready."""
    service = get_service(session, service_id)
    check_branch(actor, service.branch_id, Role.manager)
    if service.archived_at is None:
        return service
    service.archived_at = None
    service.active = False
    session.flush()
    record_event(
        session,
        "service.updated",
        service_public(service, get_branch(session, service.branch_id)),
        branch_id=service.branch_id,
    )
    record_change(session, actor, "service.restore", {"service_id": service.id})
    return service
