from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from wins.branches import service
from wins.deps import ManagerDep, PrincipalDep, ReadSessionDep, SessionDep
from wins.schemas import BranchPublic, BranchUpdate

router = APIRouter(tags=["branch"])


@router.get("/branch", response_model=BranchPublic)
def get_branch(_: PrincipalDep, session: ReadSessionDep) -> dict[str, Any]:
    """The branch this server runs: name, time zone, business-day rollover and settings."""
    return service.branch_public(service.get_branch(session))


@router.patch("/branch", response_model=BranchPublic)
def update_branch(body: BranchUpdate, principal: ManagerDep, session: SessionDep) -> dict[str, Any]:
    """Change the branch's name, time zone, rollover hour or settings (manager)."""
    changes = body.model_dump(exclude_unset=True)
    branch = service.update_branch(session, service.get_branch(session), changes=changes, actor=principal)
    return service.branch_public(branch)
