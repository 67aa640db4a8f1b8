from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from wins.deps import ReadSessionDep, SessionDep, SettingsDep
from wins.schemas import SmsStatus, SmsSubscribe
from wins.sms import service

router = APIRouter(prefix="/public", tags=["public"])


@router.get("/tickets/{tracking_token}/sms", response_model=SmsStatus)
def sms_status(tracking_token: str, session: ReadSessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Whether this ticket can have text messages, and whether a number is kept (only its last 2 digits show)."""
    return service.sms_status(session, service.ticket_by_token(session, tracking_token), settings)


@router.post("/tickets/{tracking_token}/sms", response_model=SmsStatus, status_code=201)
def sms_subscribe(
    tracking_token: str, body: SmsSubscribe, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """Text this number when few people are ahead and when the ticket is called. The number is stored encrypted,
    never shown again, and erased when the ticket ends."""
    ticket = service.ticket_by_token(session, tracking_token)
    service.subscribe(session, ticket, phone=body.phone, language=body.language, settings=settings)
    return service.sms_status(session, ticket, settings)


@router.post("/tickets/{tracking_token}/sms/stop", status_code=204)
def sms_unsubscribe(tracking_token: str, session: SessionDep) -> Response:
    """Send no more texts for this ticket and erase its number now."""
    ticket = service.ticket_by_token(session, tracking_token)
    service.erase(session, ticket_ids=[ticket.id])
    return Response(status_code=204)
