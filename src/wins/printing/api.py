"""Printing routes: reprint a ticket's slip on the branch's network printer (used by the staff UI)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from wins.deps import DatabaseDep, ObjectId, PublicBaseUrlDep, ReceptionDep, SettingsDep
from wins.printing import service

router = APIRouter(tags=["printing"])


class PrintResultPublic(BaseModel):
    ok: bool = Field(description="True only when the whole slip reached the printer")
    printer_state: str = Field(description="online, offline, paper_out, cover_open, error or unknown")
    message: str
    attempts: int
    paper_low: bool


class PrinterFault(PrintResultPublic):
    detail: str
    code: str = "printer_fault"


# Registered before the tickets router: its `/tickets/{id}/{action}` would otherwise claim this path.
@router.post(
    "/tickets/{ticket_id}/reprint",
    response_model=PrintResultPublic,
    responses={503: {"model": PrinterFault, "description": "The printer is unreachable or cannot print"}},
)
def reprint_ticket(
    ticket_id: ObjectId, principal: ReceptionDep, db: DatabaseDep, settings: SettingsDep, base_url: PublicBaseUrlDep
) -> Any:
    """Print the ticket's slip again on the branch's printer (`printer_url` branch setting or
        WINS_PRINTER_URL), with the current people ahead and wait. The ticket itself is not changed. A printer
        fault answers 503 with the printer's state and a message to show (staff, reception included: they print
    the slip of a ticket they issue at the desk)."""
    result = service.reprint_ticket(db, ticket_id=ticket_id, settings=settings, base_url=base_url, actor=principal)
    if not result.ok:
        body = {**result.to_dict(), "detail": result.message, "code": "printer_fault"}
        return JSONResponse(body, status_code=503)
    return result.to_dict()
