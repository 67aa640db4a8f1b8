"""What a ticket looks like to each reader: staff and kiosks (TicketPublic, with the customer's tracking link)
and the customer's phone (TicketTracking)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

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
from wins.wait_text import wait_range_text


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
    if lock:  # and fresh: an object already in the session is re-read from the locked row
        query = query.with_for_update().execution_options(populate_existing=True)
    ticket = session.scalar(query)
    if ticket is None:
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    return ticket


def get_by_tracking_token(session: Session, token: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.tracking_token == token)) if token else None
    if ticket is None:
        raise NotFound("No ticket matches this link. Check the address on your slip, or ask at the desk.")
    return ticket


class TicketRow(Protocol):
    """A Ticket, or the column values issuing has just written (it builds no ORM object)."""

    @property
    def id(self) -> int: ...
    @property
    def number(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def service_id(self) -> int: ...
    @property
    def priority(self) -> bool: ...
    @property
    def priority_category(self) -> str | None: ...
    @property
    def counter_id(self) -> int | None: ...
    @property
    def call_count(self) -> int: ...
    @property
    def language(self) -> str | None: ...
    @property
    def issued_at(self) -> datetime: ...
    @property
    def queue_at(self) -> datetime: ...
    @property
    def called_at(self) -> datetime | None: ...
    @property
    def business_day(self) -> date: ...
    @property
    def tracking_token(self) -> str: ...
    @property
    def serving_at(self) -> datetime | None: ...
    @property
    def finished_at(self) -> datetime | None: ...
    @property
    def staff_id(self) -> int | None: ...
    @property
    def transfer_count(self) -> int: ...


def ticket_payload(t: TicketRow, *, service_name: str | None, counter_name: str | None) -> dict[str, Any]:
    """What displays and staff screens get about a ticket (no tracking token, no personal data): the data of every
    ticket event, and the start of every view of a ticket. The one place this shape is built."""
    return {
        "id": t.id,
        "number": t.number,
        "status": t.status,
        "service_id": t.service_id,
        "service_name": service_name,
        "priority": t.priority,
        "priority_category": t.priority_category,
        "counter_id": t.counter_id,
        "counter_name": counter_name,
        "call_count": t.call_count,
        "language": t.language,
        "issued_at": t.issued_at.isoformat(),
        "queue_at": t.queue_at.isoformat(),
        "called_at": t.called_at.isoformat() if t.called_at else None,
        "business_day": t.business_day.isoformat(),
    }


def ticket_details(t: TicketRow) -> dict[str, Any]:
    """What staff and the kiosk that issued it see besides the payload and the wait (TicketPublic's other fields)."""
    return {
        "tracking_token": t.tracking_token,
        "serving_at": t.serving_at.isoformat() if t.serving_at else None,
        "finished_at": t.finished_at.isoformat() if t.finished_at else None,
        "staff_id": t.staff_id,
        "transfer_count": t.transfer_count,
    }


def ticket_event_data(session: Session, ticket: Ticket) -> dict[str, Any]:
    """`ticket_payload` of a stored ticket (its service's and counter's names looked up)."""
    service = session.get(Service, ticket.service_id)
    counter = session.get(Counter, ticket.counter_id) if ticket.counter_id else None
    return ticket_payload(
        ticket, service_name=service.name if service else None, counter_name=counter.name if counter else None
    )


def ticket_view(session: Session, ticket: Ticket, *, settings: Settings) -> dict[str, Any]:
    """A ticket with its position and estimated wait."""
    data = ticket_event_data(session, ticket)
    if ticket.status == TicketStatus.waiting:
        load = service_load(session, ticket.service_id, settings=settings)
        data.update(wait_fields(est.estimate_for(est.people_ahead(session, ticket), load), ticket.language))
    else:
        data.update(
            position=0, people_ahead=0, estimated_wait_seconds=0, estimated_wait_range=[0, 0], estimated_wait_text=""
        )
    data.update(ticket_details(ticket))
    from wins.tickets.arrival import arrival_fields  # arrival builds on this module

    data.update(arrival_fields(session, ticket))
    return data


def wait_fields(e: est.Estimate, language: str | None) -> dict[str, Any]:
    """A waiting ticket's place and wait, as `ticket_view` and `new_ticket_view` show them (the wait in words in
    the ticket's language: the one wording of kiosk, slip and phone, `wait_text.wait_range_text`)."""
    return {
        "position": e.people_ahead + 1,
        "people_ahead": e.people_ahead,
        "estimated_wait_seconds": e.seconds,
        "estimated_wait_range": [e.low, e.high],
        "estimated_wait_text": wait_range_text(e.low, e.high, language),
    }
