from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from wins.deps import ManagerDep, ObjectId, PrincipalDep, ReadSessionDep, SessionDep
from wins.schemas import ServiceCreate, ServicePublic, ServiceUpdate
from wins.services import service

router = APIRouter(tags=["services"])


@router.get("/services", response_model=list[ServicePublic])
def list_services(_: PrincipalDep, session: ReadSessionDep, active_only: bool = False) -> list[dict[str, Any]]:
    """Services of the branch, in display order (kiosks pass `active_only=true`)."""
    return [service.service_public(s) for s in service.list_services(session, active_only=active_only)]


@router.post("/services", response_model=ServicePublic, status_code=201)
def create_service(body: ServiceCreate, principal: ManagerDep, session: SessionDep) -> dict[str, Any]:
    """Create a service (manager)."""
    created = service.create_service(session, values=body.model_dump(), actor=principal)
    return service.service_public(created)


@router.patch("/services/{service_id}", response_model=ServicePublic)
def update_service(
    service_id: ObjectId, body: ServiceUpdate, principal: ManagerDep, session: SessionDep
) -> dict[str, Any]:
    """Change a service: name, prefix, colour, active, priority weight, order, target wait (manager)."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "target_wait_minutes" in body.model_fields_set:  # null removes the target
        changes["target_wait_minutes"] = body.target_wait_minutes
    updated = service.update_service(session, service_id, changes=changes, actor=principal)
    return service.service_public(updated)
