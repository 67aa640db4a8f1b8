from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from wins.branches import service
from wins.deps import ManagerDep, PrincipalDep, ReadSessionDep, SessionDep
from wins.schemas import BranchPublic, BranchUpdate

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
