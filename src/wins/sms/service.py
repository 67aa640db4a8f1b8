"""A ticket's "text me" (one phone number per ticket): asking, stopping, and what the tracking page may know."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from wins.branches.models import Branch
from wins.branches.service import branch_settings
from wins.config import Settings
from wins.errors import NotFound, ValidationFailed
from wins.join.notices import notify_ahead
from wins.schemas import SmsStatus
from wins.sms import phone as phones
from wins.sms.models import SmsOutbox, SmsRequest
from wins.tickets.models import Ticket, TicketStatus

ENDED = (TicketStatus.done, TicketStatus.no_show, TicketStatus.cancelled, TicketStatus.expired)


def ticket_by_token(session: Session, token: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.tracking_token == token))
    if ticket is None:
        raise NotFound("This ticket does not exist (check the link on your slip).")
    return ticket


def unavailable_reason(session: Session, ticket: Ticket, settings: Settings) -> str:
    branch = session.get(Branch, ticket.branch_id)
    if not settings.sms_gateway_url or branch is None or not branch_settings(branch).sms_available:
        return "Text messages are not available here. Keep this page open to follow your turn."
    if TicketStatus(ticket.status) != TicketStatus.waiting:
        return "Text messages are only for tickets that are still waiting."
    return ""


def sms_status(session: Session, ticket: Ticket, settings: Settings) -> dict[str, Any]:
    """What the tracking page shows: never the number, only its last 2 digits."""
    reason = unavailable_reason(session, ticket, settings)
    request = session.scalar(select(SmsRequest).where(SmsRequest.ticket_id == ticket.id))
    return SmsStatus(
        available=not reason,
        reason=reason,
        subscribed=request is not None,
        last_digits=request.last_digits if request is not None else None,
        notify_ahead=notify_ahead(session, ticket.service_id),
    ).model_dump()


def subscribe(session: Session, ticket: Ticket, *, phone: str, language: str, settings: Settings) -> SmsRequest:
    """Keep this number (encrypted) to text it when the ticket is nearly up and when it is called; a second
    number for the same ticket replaces the first."""
    reason = unavailable_reason(session, ticket, settings)
    if reason:
        raise ValidationFailed(reason)
    number = phones.normalise(phone, default_country_code=settings.sms_default_country_code)
    erase(session, ticket_ids=[ticket.id])
    request = SmsRequest(
        ticket_id=ticket.id,
        phone_encrypted=phones.encrypt(number, secret_key=settings.effective_secret_key),
        last_digits=number[-2:],
        language=(language.split("-")[0].lower() or "en")[:8],
        near_sent=False,
        calls_sent=ticket.call_count,
    )
    session.add(request)
    session.flush()
    return request


def erase(session: Session, *, ticket_ids: list[int]) -> int:
    """Forget the numbers (and the texts not yet sent) of these tickets; how many numbers went."""
    if not ticket_ids:
        return 0
    ids = list(session.scalars(select(SmsRequest.id).where(SmsRequest.ticket_id.in_(ticket_ids))))
    if ids:
        session.execute(delete(SmsOutbox).where(SmsOutbox.request_id.in_(ids)))
        session.execute(delete(SmsRequest).where(SmsRequest.id.in_(ids)))
    return len(ids)


def ended_with_numbers(session: Session) -> list[int]:
    """Tickets that have ended but still have a number kept (the sender erases them)."""
    ended = select(Ticket.id).where(Ticket.id == SmsRequest.ticket_id, Ticket.status.in_(ENDED))
    return list(session.scalars(select(SmsRequest.ticket_id).where(ended.exists())))
