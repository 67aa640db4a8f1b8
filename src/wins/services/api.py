from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from wins.branches.service import get_branch
from wins.deps import ManagerDep, ObjectId, PrincipalDep, ReadSessionDep, SessionDep
from wins.schemas import ArchiveRequest, ServiceCreate, ServicePublic, ServiceUpdate
from wins.services import retire, service

router = APIRouter(tags=["services"])


@router.get("/services", response_model=list[ServicePublic])
def list_services(
    principal: PrincipalDep, session: ReadSessionDep, active_only: bool = False, include_archived: bool = False
) -> list[dict[str, Any]]:
    """Services of the branch, in display order. `active_only=true` (kiosks): only those issuing tickets;
    archived services only with `include_archived=true`. Each with `open_now` and, from its opening hours,
    `opens_at` (when closed) or `closes_at` (the last moment it takes tickets)."""
    branch = get_branch(session, principal.branch_id)
    found = service.list_services(
        session, branch_id=branch.id, active_only=active_only, include_archived=include_archived
    )
    return [service.service_public(s, branch) for s in found]


@router.post("/services", response_model=ServicePublic, status_code=201)
def create_service(body: ServiceCreate, principal: ManagerDep, session: SessionDep) -> dict[str, Any]:
    """Create a service (manager)."""
    created = service.create_service(session, values=body.model_dump(), actor=principal)
    return service.service_public(created, get_branch(session, created.branch_id))


@router.patch("/services/{service_id}", response_model=ServicePublic)
def update_service(
    service_id: ObjectId, body: ServiceUpdate, principal: ManagerDep, session: SessionDep
) -> dict[str, Any]:
    """Change a service: name, prefix, colour, active, priority weight, order, opening hours, target wait
    (manager; `"hours": null` removes the hours, the service then takes tickets at any time; `"target_wait_minutes":
    null` removes the target)."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "hours" in body.model_fields_set and body.hours is None:
        changes["hours"] = None
    if "target_wait_minutes" in body.model_fields_set:
        changes["target_wait_minutes"] = body.target_wait_minutes
    updated = service.update_service(session, service_id, changes=changes, actor=principal)
    return service.service_public(updated, get_branch(session, updated.branch_id))


@router.delete("/services/{service_id}", status_code=204)
def delete_service(service_id: ObjectId, principal: ManagerDep, session: SessionDep) -> Response:
    """Delete a service no ticket ever used (manager); a used one answers 409: archive it instead."""
    retire.delete_service(session, service_id, actor=principal)
    return Response(status_code=204)


@router.post("/services/{service_id}/archive", response_model=ServicePublic)
def archive_service(
    service_id: ObjectId,
    principal: ManagerDep,
    session: SessionDep,
    body: Annotated[ArchiveRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Archive a service (manager): no more tickets, hidden on kiosks, displays and lists, kept in reports.
    Today's waiting tickets must go first, in the same call: `{"waiting": "transfer", "to_service_id": N}`
    moves them (keeping their place), `{"waiting": "cancel"}` closes them; otherwise 409 says how many wait.
    To stop new tickets but still call the waiting ones, PATCH `active: false` instead."""
    choice = body or ArchiveRequest()
    archived = retire.archive_service(
        session, service_id, waiting=choice.waiting, to_service_id=choice.to_service_id, actor=principal
    )
    return service.service_public(archived, get_branch(session, archived.branch_id))


@router.post("/services/{service_id}/restore", response_model=ServicePublic)
def restore_service(service_id: ObjectId, principal: ManagerDep, session: SessionDep) -> dict[str, Any]:
    """Bring an archived service back, not issuing yet (manager)."""
    restored = retire.restore_service(session, service_id, actor=principal)
    return service.service_public(restored, get_branch(session, restored.branch_id))
