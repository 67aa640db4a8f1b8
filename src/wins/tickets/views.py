"""What a ticket looks like to each reader: staff and kiosks (TicketPublic, with the customer's tracking link)
and the customer's phone (TicketTracking)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from wins.config import Settings
from wins.schemas import TicketTracking
from wins.tickets import service
from wins.tickets.models import Ticket


def tracking_url(base_url: str, token: str) -> str:
    """The customer's tracking link (on the API's answers and the printed slip's QR code), from the public base
    URL (`wins.deps.public_base_url`)."""
    return f"{base_url.rstrip('/')}/t/{token}"


def ticket_response(session: Session, ticket: Ticket, settings: Settings, base_url: str) -> dict[str, Any]:
    view = service.ticket_view(session, ticket, settings=settings)
    view["tracking_url"] = tracking_url(base_url, ticket.tracking_token)
    return view


def tracking_view(session: Session, ticket: Ticket, settings: Settings) -> dict[str, Any]:
    view = service.ticket_view(session, ticket, settings=settings)
    return {key: view[key] for key in TicketTracking.model_fields}
