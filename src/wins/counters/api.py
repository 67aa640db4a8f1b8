from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from wins.counters import pauses, service
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
from wins.schemas import CounterCreate, CounterPauseCreate, CounterPublic, CounterUpdate, TicketPublic
from wins.staff.service import get_user
from wins.tickets import calling
from wins.tickets.views import ticket_response

router = APIRouter(tags=["counters"])


@router.get("/counters", response_model=list[CounterPublic])
def list_counters(principal: PrincipalDep, session: ReadSessionDep) -> list[dict[str, Any]]:
    """Counters of the branch with the services they call (in order) and who sits there (by name for staff;
    device tokens get `staff_name` null)."""
    names = service.shows_staff_names(principal)
    return [service.counter_public(session, c, staff_names=names) for c in service.list_counters(session)]


@router.post("/counters", response_model=CounterPublic, status_code=201)
def create_counter(body: CounterCreate, principal: ManagerDep, session: SessionDep) -> dict[str, Any]:
    """Create a counter serving the given services, in that order (manager)."""
    counter = service.create_counter(session, name=body.name, service_ids=body.service_ids, actor=principal)
    return service.counter_public(session, counter)


@router.patch("/counters/{counter_id}", response_model=CounterPublic)
def update_counter(
    counter_id: ObjectId, body: CounterUpdate, principal: ManagerDep, session: SessionDep
) -> dict[str, Any]:
    """Rename a counter, switch it on or off, or change its services and their order (manager)."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    counter = service.update_counter(session, counter_id, changes=changes, actor=principal)
    return service.counter_public(session, counter)


@router.post("/counters/{counter_id}/open", response_model=CounterPublic)
def open_counter(counter_id: ObjectId, principal: StaffDep, session: SessionDep) -> dict[str, Any]:
    """Sit down at a counter: it shows as open and counts for wait estimates (staff)."""
    assert principal.staff is not None
    counter = service.open_counter(session, counter_id, staff=get_user(session, principal.staff.id), actor=principal)
    return service.counter_public(session, counter)


@router.post("/counters/{counter_id}/close", response_model=CounterPublic)
def close_counter(counter_id: ObjectId, principal: StaffDep, session: SessionDep) -> dict[str, Any]:
    """Leave a counter (staff)."""
    counter = service.close_counter(session, counter_id, actor=principal)
    return service.counter_public(session, counter)


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
    responses={204: {"description": "Nobody is waiting for this counter's services"}},
)
def call_next(
    counter_id: ObjectId, principal: StaffDep, session: SessionDep, settings: SettingsDep, base_url: PublicBaseUrlDep
) -> Any:
    """Finish the ticket this counter holds, then call the next one: priority first, then the counter's
    service order, then queue time. 204 when nobody waits."""
    ticket = calling.call_next(session, counter_id=counter_id, actor=principal)
    if ticket is None:
        return Response(status_code=204)
    return ticket_response(session, ticket, settings, base_url)


@router.post("/counters/{counter_id}/call/{ticket_id}", response_model=TicketPublic)
def call_ticket(
    counter_id: ObjectId,
    ticket_id: ObjectId,
    principal: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    base_url: PublicBaseUrlDep,
) -> dict[str, Any]:
    """Call a specific waiting ticket out of order (staff)."""
    ticket = calling.call_ticket(session, counter_id=counter_id, ticket_id=ticket_id, actor=principal)
    return ticket_response(session, ticket, settings, base_url)
