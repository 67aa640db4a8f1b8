from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from wins.branches import service
from wins.deps import AdminDep, ManagerDep, ObjectId, PrincipalDep, ReadSessionDep, SessionDep
from wins.schemas import BranchCreate, BranchPublic, BranchUpdate

router = APIRouter(tags=["branch"])


@router.get("/branch", response_model=BranchPublic)
def get_branch(principal: PrincipalDep, session: ReadSessionDep) -> dict[str, Any]:
    """The branch the caller acts in (a device's own; staff: see X-WINS-Branch): name, time zone, business-day
    rollover and settings."""
    return service.branch_public(service.get_branch(session, principal.branch_id))


@router.patch("/branch", response_model=BranchPublic)
def update_branch(body: BranchUpdate, principal: ManagerDep, session: SessionDep) -> dict[str, Any]:
    """Change the branch's name, time zone, rollover hour or settings (manager)."""
    changes = body.model_dump(exclude_unset=True)
    branch = service.update_branch(
        session, service.get_branch(session, principal.branch_id), changes=changes, actor=principal
    )
    return service.branch_public(branch)


@router.get("/branches", response_model=list[BranchPublic])
def list_branches(_: AdminDep, session: ReadSessionDep) -> list[dict[str, Any]]:
    """Every branch of this installation (admin); empty on a site not set up yet."""
    return [service.branch_public(b) for b in service.list_branches(session)]


@router.post("/branches", response_model=BranchPublic, status_code=201)
def create_branch(body: BranchCreate, principal: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Create a branch (admin): name, IANA time zone, the local hour its business day starts, and the languages
    of its kiosks and displays. On a fresh site this is the set-up step `wins setup` also does."""
    branch = service.create_branch(
        session,
        name=body.name,
        timezone=body.timezone,
        day_rollover_hour=body.day_rollover_hour,
        languages=body.languages,
        actor=principal,
    )
    return service.branch_public(branch)


@router.patch("/branches/{branch_id}", response_model=BranchPublic)
def update_branch_by_id(
    branch_id: ObjectId, body: BranchUpdate, principal: AdminDep, session: SessionDep
) -> dict[str, Any]:
    """Change a branch's name, time zone, rollover hour or settings (admin)."""
    changes = body.model_dump(exclude_unset=True)
    branch = service.update_branch(session, service.get_branch(session, branch_id), changes=changes, actor=principal)
    return service.branch_public(branch)
