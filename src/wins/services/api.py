from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from wins.branches.service import get_branch
from wins.deps import ManagerDep, ObjectId, PrincipalDep, ReadSessionDep, SessionDep
from wins.schemas import ServiceCreate, ServicePublic, ServiceUpdate
from wins.services import service

router = APIRouter(tags=["services"])


@router.get("/services", response_model=list[ServicePublic])
def list_services(_: PrincipalDep, session: ReadSessionDep, active_only: bool = False) -> list[dict[str, Any]]:
    """Services of the branch, in display order (kiosks pass `active_only=true`), each with `open_now` and, from
    its opening hours, `opens_at` (when closed) or `closes_at` (the last moment it takes tickets)."""
    branch = get_branch(session)
    return [service.service_public(s, branch) for s in service.list_services(session, active_only=active_only)]


@router.post("/services", response_model=ServicePublic, status_code=201)
def create_service(body: ServiceCreate, principal: ManagerDep, session: SessionDep) -> dict[str, Any]:
    """Create a service (manager)."""
    created = service.create_service(session, values=body.model_dump(), actor=principal)
    return service.service_public(created, get_branch(session, created.branch_id))


@router.patch("/services/{service_id}", response_model=ServicePublic)
def update_service(
    service_id: ObjectId, body: ServiceUpdate, principal: ManagerDep, session: SessionDep
) -> dict[str, Any]:
    """Change a service: name, prefix, colour, active, priority weight, order, opening hours (manager; `"hours":
    null` removes them: the service then takes tickets at any time)."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "hours" in body.model_fields_set and body.hours is None:
        changes["hours"] = None
    updated = service.update_service(session, service_id, changes=changes, actor=principal)
    return service.service_public(updated, get_branch(session, updated.branch_id))
