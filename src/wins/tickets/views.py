"""What a ticket looks like to each reader: staff and kiosks (TicketPublic, with the customer's tracking link)
and the customer's phone (TicketTracking)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wins.config import Settings
from wins.counters.models import Counter
from wins.errors import NotFound
from wins.schemas import TicketTracking
from wins.services.models import Service
from wins.tickets import estimate as est
from wins.tickets.caches import service_load
from wins.tickets.models import Ticket, TicketStatus


def tracking_url(base_url: str, token: str) -> str:
    """The customer's tracking link (on the API's answers and the printed slip's QR code), from the public base
    URL (`wins.deps.public_base_url`)."""
    return f"{base_url.rstrip('/')}/t/{token}"


def ticket_response(session: Session, ticket: Ticket, settings: Settings, base_url: str) -> dict[str, Any]:
    view = ticket_view(session, ticket, settings=settings)
    view["tracking_url"] = tracking_url(base_url, ticket.tracking_token)
    return view


def tracking_view(session: Session, ticket: Ticket, settings: Settings) -> dict[str, Any]:
    view = ticket_view(session, ticket, settings=settings)
    return {key: view[key] for key in TicketTracking.model_fields}


# -- reading -------------------------------------------------------------------------------------------


def get_ticket(session: Session, ticket_id: int, *, lock: bool = False) -> Ticket:
    query = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        query = query.with_for_update()
    ticket = session.scalar(query)
    if ticket is None:
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    return ticket


def get_by_tracking_token(session: Session, token: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.tracking_token == token)) if token else None
    if ticket is None:
        raise NotFound("No ticket matches this link. Check the address on your slip, or ask at the desk.")
    return ticket


def ticket_event_data(session: Session, ticket: Ticket) -> dict[str, Any]:
    """What displays and staff screens get about a ticket (no tracking token, no personal data)."""
    service = session.get(Service, ticket.service_id)
    counter = session.get(Counter, ticket.counter_id) if ticket.counter_id else None
    return {
        "id": ticket.id,
        "number": ticket.number,
        "status": ticket.status,
        "service_id": ticket.service_id,
        "service_name": service.name if service else None,
        "priority": ticket.priority,
        "counter_id": ticket.counter_id,
        "counter_name": counter.name if counter else None,
        "call_count": ticket.call_count,
        "language": ticket.language,
        "issued_at": ticket.issued_at.isoformat(),
        "queue_at": ticket.queue_at.isoformat(),
        "called_at": ticket.called_at.isoformat() if ticket.called_at else None,
        "business_day": ticket.business_day.isoformat(),
    }


def ticket_view(session: Session, ticket: Ticket, *, settings: Settings) -> dict[str, Any]:
    """A ticket with its position and estimated wait."""
    data = ticket_event_data(session, ticket)
    if ticket.status == TicketStatus.waiting:
        load = service_load(session, ticket.service_id, settings=settings)
        data.update(wait_fields(est.estimate_for(est.people_ahead(session, ticket), load)))
    else:
        data.update(position=0, people_ahead=0, estimated_wait_seconds=0, estimated_wait_range=[0, 0])
    data.update(
        tracking_token=ticket.tracking_token,
        serving_at=ticket.serving_at.isoformat() if ticket.serving_at else None,
        finished_at=ticket.finished_at.isoformat() if ticket.finished_at else None,
        staff_id=ticket.staff_id,
        transfer_count=ticket.transfer_count,
    )
    return data


def wait_fields(e: est.Estimate) -> dict[str, Any]:
    """A waiting ticket's place and wait, as `ticket_view` and `new_ticket_view` show them."""
    return {
        "position": e.people_ahead + 1,
        "people_ahead": e.people_ahead,
        "estimated_wait_seconds": e.seconds,
        "estimated_wait_range": [e.low, e.high],
    }
