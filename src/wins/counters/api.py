from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from wins.counters import pauses, seating, service, stranded
from wins.counters.seating import HeldChoice
from wins.deps import (
    ManagerDep,
    ObjectId,
    PrincipalDep,
    PublicBaseUrlDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    StaffDep,
)
from wins.schemas import (
    CounterCreate,
    CounterPauseCreate,
    CounterPublic,
    CounterSeat,
    CounterUpdate,
    StrandedTicket,
    TicketPublic,
)
from wins.tickets import calling
from wins.tickets.views import ticket_response

router = APIRouter(tags=["counters"])
SEAT_CONFLICTS: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "`ticket_held`: leaving a counter would strand its ticket (send `held_ticket`); "
        "`counter_occupied`: someone else sits there (send `take_over`)"
    }
}


@router.get("/counters", response_model=list[CounterPublic])
def list_counters(
    principal: PrincipalDep, session: ReadSessionDep, include_archived: bool = False
) -> list[dict[str, Any]]:
    """Counters of the branch with the services they call (in order) and who sits there (by name for staff;
    device tokens get `staff_name` null). Archived counters only with `include_archived=true`."""
    names = service.shows_staff_names(principal)
    found = service.list_counters(session, branch_id=principal.branch_id, include_archived=include_archived)
    return [service.counter_public(session, c, staff_names=names) for c in found]


@router.post("/counters", response_model=CounterPublic, status_code=201)
def create_counter(body: CounterCreate, principal: ManagerDep, session: SessionDep) -> dict[str, Any]:
    """Create a counter serving the given services, in that order (manager)."""
    counter = service.create_counter(session, name=body.name, service_ids=body.service_ids, actor=principal)
    return service.counter_public(session, counter)


@router.delete("/counters/{counter_id}", status_code=204)
def delete_counter(counter_id: ObjectId, principal: ManagerDep, session: SessionDep) -> Response:
    """Delete a counter where no ticket was ever called (manager); a used one answers 409: archive it."""
    service.delete_counter(session, counter_id, actor=principal)
    return Response(status_code=204)


@router.post("/counters/{counter_id}/archive", response_model=CounterPublic)
def archive_counter(counter_id: ObjectId, principal: ManagerDep, session: SessionDep) -> dict[str, Any]:
    """Archive a used counter (manager): hidden from the workspace, displays and lists, kept in reports.
    Refused (409) while it holds a called or serving ticket."""
    counter = service.archive_counter(session, counter_id, actor=principal)
    return service.counter_public(session, counter)


@router.post("/counters/{counter_id}/restore", response_model=CounterPublic)
def restore_counter(counter_id: ObjectId, principal: ManagerDep, session: SessionDep) -> dict[str, Any]:
    """Bring an archived counter back, switched off (manager)."""
    counter = service.restore_counter(session, counter_id, actor=principal)
    return service.counter_public(session, counter)


@router.patch("/counters/{counter_id}", response_model=CounterPublic)
def update_counter(
    counter_id: ObjectId, body: CounterUpdate, principal: ManagerDep, session: SessionDep
) -> dict[str, Any]:
    """Rename a counter, switch it on or off, or change its services and their order (manager)."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    counter = service.update_counter(session, counter_id, changes=changes, actor=principal)
    return service.counter_public(session, counter)


def _choice(body: CounterSeat | None) -> HeldChoice | None:
    if body is None:
        return None
    return HeldChoice.of(
        body.held_ticket, to_service_id=body.to_service_id, to_counter_id=body.to_counter_id, to_end=body.to_end
    )


@router.post("/counters/{counter_id}/open", response_model=CounterPublic, responses=SEAT_CONFLICTS)
def open_counter(
    counter_id: ObjectId, principal: StaffDep, session: SessionDep, body: CounterSeat | None = None
) -> dict[str, Any]:
    """Sit down at a counter: it shows as open and counts for wait estimates (staff). Leaving another counter
    that holds a ticket needs `held_ticket`; a counter someone else occupies needs `take_over`."""
    counter = seating.open_counter(
        session, counter_id=counter_id, actor=principal, take_over=bool(body and body.take_over), choice=_choice(body)
    )
    return service.counter_public(session, counter)


@router.post("/counters/{counter_id}/close", response_model=CounterPublic, responses=SEAT_CONFLICTS)
def close_counter(
    counter_id: ObjectId, principal: StaffDep, session: SessionDep, body: CounterSeat | None = None
) -> dict[str, Any]:
    """Leave a counter (staff). One that holds a ticket needs `held_ticket` (complete, requeue or transfer);
    a colleague's counter needs `take_over`."""
    counter = seating.close(
        session, counter_id=counter_id, actor=principal, take_over=bool(body and body.take_over), choice=_choice(body)
    )
    return service.counter_public(session, counter)


@router.get("/counters/stranded", response_model=list[StrandedTicket])
def stranded_tickets(principal: ManagerDep, session: ReadSessionDep) -> list[dict[str, Any]]:
    """Tickets held (called or serving) at a counter where nobody will finish them: nobody sits there, the
    counter is switched off, or nothing happened to the ticket for a long time (manager)."""
    return stranded.stranded_tickets(session, branch_id=principal.branch_id)


@router.post("/counters/{counter_id}/pause", response_model=CounterPublic)
def pause_counter(counter_id: ObjectId, body: CounterPauseCreate, principal: StaffDep, session: SessionDep) -> Any:
    """Pause your counter with a reason (break, paperwork, other): it takes no customers until resumed, and the
    wait estimates leave it out (the person at the counter, or a manager)."""
    counter = pauses.pause_counter(session, counter_id, reason=body.reason, actor=principal)
    return service.counter_public(session, counter)


@router.post("/counters/{counter_id}/resume", response_model=CounterPublic)
def resume_counter(counter_id: ObjectId, principal: StaffDep, session: SessionDep) -> Any:
    """End the counter's pause: it takes customers again (the person at the counter, or a manager)."""
    counter = pauses.resume_counter(session, counter_id, actor=principal)
    return service.counter_public(session, counter)


@router.post(
    "/counters/{counter_id}/call-next",
    response_model=TicketPublic,
    responses={204: {"description": "Nobody is waiting for this counter's services"}, **SEAT_CONFLICTS},
)
def call_next(
    counter_id: ObjectId,
    principal: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    base_url: PublicBaseUrlDep,
    body: CounterSeat | None = None,
) -> Any:
    """Finish the ticket this counter holds, then call the next one: priority first, then the counter's
    service order, then queue time. 204 when nobody waits. The caller sits down at the counter (see open)."""
    ticket = calling.call_next(
        session, counter_id=counter_id, actor=principal, take_over=bool(body and body.take_over), choice=_choice(body)
    )
    if ticket is None:
        return Response(status_code=204)
    return ticket_response(session, ticket, settings, base_url)


@router.post("/counters/{counter_id}/call/{ticket_id}", response_model=TicketPublic, responses=SEAT_CONFLICTS)
def call_ticket(
    counter_id: ObjectId,
    ticket_id: ObjectId,
    principal: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    base_url: PublicBaseUrlDep,
    body: CounterSeat | None = None,
) -> dict[str, Any]:
    """Call a specific waiting ticket out of order (staff)."""
    ticket = calling.call_ticket(
        session,
        counter_id=counter_id,
        ticket_id=ticket_id,
        actor=principal,
        take_over=bool(body and body.take_over),
        choice=_choice(body),
    )
    return ticket_response(session, ticket, settings, base_url)
