from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from wins.counters import stranded
from wins.counters.service import shows_staff_names
from wins.db import WriteLockBusy
from wins.deps import (
    DatabaseDep,
    ManagerDep,
    ObjectId,
    PrincipalDep,
    PublicBaseUrlDep,
    ReadSessionDep,
    ReceptionDep,
    SessionDep,
    SettingsDep,
    StaffDep,
    write_transaction,
)
from wins.enums import Role
from wins.errors import PermissionDenied
from wins.schemas import (
    ArrivalCheckIn,
    TicketCreate,
    TicketHistory,
    TicketPublic,
    TicketReassign,
    TicketTracking,
    TicketTransfer,
)
from wins.tickets import arrival, history, issuing, snapshot, transitions, views
from wins.tickets.views import ticket_response, tracking_url, tracking_view

router = APIRouter(tags=["tickets"])
# Issuing alone, so the app can match it first: every request walks the route list in order until one matches.
issue_router = APIRouter(tags=["tickets"])
public_router = APIRouter(prefix="/public", tags=["public"])

Action = Literal["recall", "start", "complete", "no-show", "requeue", "cancel"]


@issue_router.post(
    "/tickets",
    response_model=TicketPublic,
    status_code=201,
    responses={200: {"description": "Replay: this Idempotency-Key already issued this ticket"}},
)
async def issue_ticket(
    body: TicketCreate,
    principal: PrincipalDep,
    db: DatabaseDep,
    settings: SettingsDep,
    base_url: PublicBaseUrlDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)] = None,
) -> JSONResponse:
    """Issue a ticket for a service (kiosk device or staff). Send a fresh `Idempotency-Key` per customer
    tap: repeating it returns the same ticket (200) instead of issuing a second one."""

    if db.is_sqlite and body.priority_category is None:  # a category is checked against the branch: below
        try:
            view, created = issuing.issue_on_loop(db, settings, principal, body, idempotency_key)
        except WriteLockBusy:
            pass  # another thread is writing: take the ordinary path below, which waits its turn
        else:
            return _issued_response(view, created, base_url)

    def work(session: Session) -> tuple[dict[str, Any], bool]:
        issued = issuing.issue(
            session,
            service_id=body.service_id,
            actor=principal,
            priority=body.priority,
            idempotency_key=idempotency_key,
            language=body.language,
            settings=settings,
            priority_category=body.priority_category,
        )
        return issuing.issued_view(session, issued, settings=settings), issued.created

    view, created = await write_transaction(db, work)
    return _issued_response(view, created, base_url)


def _issued_response(view: dict[str, Any], created: bool, base_url: str) -> JSONResponse:
    # Built from what the transaction wrote; the same TicketPublic shape (tests check it against the schema).
    view["tracking_url"] = tracking_url(base_url, view["tracking_token"])
    return JSONResponse(view, status_code=201 if created else 200)


@router.get("/tickets/history", response_model=list[TicketHistory])
def ticket_history(
    principal: ManagerDep,
    session: ReadSessionDep,
    number: Annotated[str, Query(max_length=12, description="As printed on the slip, e.g. A012")],
    day: Annotated[str | None, Query(max_length=10, description="Business day, YYYY-MM-DD; today if left out")] = None,
) -> list[dict[str, Any]]:
    """A ticket's whole story, for answering a complaint: issued when and where, every call, recall, transfer,
    requeue and hand-over, who handled it at which counter, its waits and service time (manager). A list:
    usually one ticket; more if a prefix was reused that day."""
    return history.find(session, number=number, day=day, branch_id=principal.branch_id)


@router.get("/tickets/{ticket_id}", response_model=TicketPublic)
def get_ticket(
    ticket_id: ObjectId,
    principal: PrincipalDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    base_url: PublicBaseUrlDep,
) -> dict[str, Any]:
    """A ticket with its position and estimated wait (staff, or the kiosk that issued it)."""
    ticket = views.get_ticket(session, ticket_id)
    if principal.staff is None and (principal.device is None or ticket.issued_by_device_id != principal.device.id):
        raise PermissionDenied("Only staff, or the kiosk that issued it, can read this ticket.")
    principal.require_same_branch(ticket.branch_id, f"Ticket {ticket_id}", Role.reception)  # reception reads it
    return ticket_response(session, ticket, settings, base_url)


@router.post("/tickets/{ticket_id}/transfer", response_model=TicketPublic)
def transfer_ticket(
    ticket_id: ObjectId,
    body: TicketTransfer,
    principal: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    base_url: PublicBaseUrlDep,
) -> dict[str, Any]:
    """Send a ticket to another service's queue; it keeps its number and place unless `to_end` (staff)."""
    ticket = transitions.transfer(
        session, ticket_id=ticket_id, service_id=body.service_id, actor=principal, to_end=body.to_end
    )
    return ticket_response(session, ticket, settings, base_url)


@router.post("/tickets/{ticket_id}/reassign", response_model=TicketPublic)
def reassign_ticket(
    ticket_id: ObjectId,
    body: TicketReassign,
    principal: ManagerDep,
    session: SessionDep,
    settings: SettingsDep,
    base_url: PublicBaseUrlDep,
) -> dict[str, Any]:
    """Hand a ticket held at a counter (typically a stranded one) to another open counter that holds none:
    it is called there, and the display announces the new counter (manager)."""
    ticket = stranded.reassign(session, ticket_id=ticket_id, counter_id=body.counter_id, actor=principal)
    return ticket_response(session, ticket, settings, base_url)


@router.post("/tickets/{ticket_id}/check-in", response_model=TicketPublic)
def check_in_ticket(
    ticket_id: ObjectId,
    principal: ReceptionDep,
    session: SessionDep,
    settings: SettingsDep,
    base_url: PublicBaseUrlDep,
) -> dict[str, Any]:
    """Mark a remote ticket arrived (the customer is at the desk): it is then called in its normal order, as if
    they had tapped "I'm here" (reception and up, in the ticket's branch)."""
    ticket = arrival.check_in_by_staff(session, ticket_id=ticket_id, actor=principal)
    return ticket_response(session, ticket, settings, base_url)


@router.post(
    "/tickets/{ticket_id}/undo",
    response_model=TicketPublic,
    responses={409: {"description": "Too late, someone else's change, or the ticket changed since"}},
)
def undo_ticket_action(
    ticket_id: ObjectId,
    principal: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    base_url: PublicBaseUrlDep,
) -> dict[str, Any]:
    """Undo your own last Done, No-show, Requeue or Transfer of this ticket within `WINS_UNDO_SECONDS` (10 s by
    default): the ticket goes back to its status, counter and queue place before it (staff)."""
    ticket = transitions.undo(session, ticket_id=ticket_id, actor=principal, window_seconds=settings.undo_seconds)
    return ticket_response(session, ticket, settings, base_url)


@router.post("/tickets/{ticket_id}/{action}", response_model=TicketPublic)
def ticket_action(
    ticket_id: ObjectId,
    action: Action,
    principal: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    base_url: PublicBaseUrlDep,
) -> dict[str, Any]:
    """recall (announce again), start (begin serving), complete, no-show, requeue (back to waiting),
    cancel (a waiting ticket). A transition the ticket's state does not allow answers 409 (staff)."""
    ticket = transitions.transition(session, ticket_id=ticket_id, action=action, actor=principal)
    return ticket_response(session, ticket, settings, base_url)


@router.get("/queue")
def queue(principal: PrincipalDep, session: ReadSessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Snapshot of the queue: per service the waiting tickets, per counter what it holds, recent calls, and
    `last_event_id` to follow the event stream from. Device tokens get counter names but no staff names."""
    return snapshot.queue_snapshot(
        session, settings=settings, branch_id=principal.branch_id, staff_names=shows_staff_names(principal)
    )


@public_router.get("/tickets/{tracking_token}", response_model=TicketTracking)
def track_ticket(tracking_token: str, session: ReadSessionDep, settings: SettingsDep) -> dict[str, Any]:
    """A ticket seen from the customer's phone (no sign-in: the unguessable token is the key)."""
    return tracking_view(session, views.get_by_tracking_token(session, tracking_token), settings)


@public_router.post("/tickets/{tracking_token}/cancel", response_model=TicketTracking)
def leave_queue(tracking_token: str, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """The customer leaves the queue ("I'm leaving")."""
    return tracking_view(session, transitions.cancel_by_customer(session, tracking_token=tracking_token), settings)


@public_router.post(
    "/tickets/{tracking_token}/check-in",
    response_model=TicketTracking,
    responses={403: {"description": "Not the code on the screen now"}, 409: {"description": "Too late"}},
)
def check_in(tracking_token: str, body: ArrivalCheckIn, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """The customer's "I'm here" (arrival check-in): `code` is the 6-digit code on the waiting-room screen, or
    the key of its QR code's link. A wrong or old code answers 403 and says what to do."""
    ticket = arrival.check_in_by_customer(session, tracking_token=tracking_token, code=body.code, settings=settings)
    return tracking_view(session, ticket, settings)
