from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from wins.auth import client_address
from wins.counters.seating import HeldChoice, leave_all
from wins.deps import (
    DatabaseDep,
    HeadOfficeDep,
    ObjectId,
    ReadSessionDep,
    ReceptionDep,
    SessionDep,
    SettingsDep,
)
from wins.errors import ValidationFailed
from wins.schemas import (
    HeldTicketChoice,
    StaffBranchRoleChange,
    StaffBranchRolePublic,
    StaffBranchRolesUpdate,
    StaffCreate,
    StaffPreferences,
    StaffPublic,
    StaffUpdate,
    TokenPublic,
)
from wins.staff import membership, service
from wins.staff.models import Role
from wins.staff.throttle import Limits

router = APIRouter(tags=["staff"])


@router.post("/auth/token", response_model=TokenPublic)
def login_for_token(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], db: DatabaseDep, settings: SettingsDep
) -> dict[str, Any]:
    """Exchange a staff username and password for a bearer token (OAuth2 password flow). Failed sign-ins are
    throttled per client address (`WINS_LOGIN_CLIENT_*`) and per client address and username
    (`WINS_LOGIN_MAX_FAILURES`, `WINS_LOGIN_LOCK_SECONDS`): 429 with the wait in the message."""
    user = service.sign_in(
        db,
        username=form.username,
        password=form.password,
        client=client_address(request),
        limits=Limits.from_settings(settings),
    )
    return {
        "access_token": service.issue_token(user, secret_key=settings.effective_secret_key),
        "token_type": "bearer",
        "expires_in": settings.token_ttl_seconds,
        "role": user.role,
        "username": user.username,
    }


@router.post("/auth/logout", status_code=204, responses={409: {"description": "`ticket_held`: send held_ticket"}})
def logout(principal: ReceptionDep, session: SessionDep, body: HeldTicketChoice | None = None) -> Response:
    """Sign out: this token, and every other token and web session of the account, stop working at once
    (each carries the account's sign-in generation, which this bumps). The counter you sit at is left; if it
    holds a ticket, say what happens to it (`held_ticket`), or the answer is 409 and nothing changes."""
    assert principal.staff is not None
    choice = (
        None
        if body is None
        else HeldChoice.of(
            body.held_ticket, to_service_id=body.to_service_id, to_counter_id=body.to_counter_id, to_end=body.to_end
        )
    )
    leave_all(session, staff_id=principal.staff.id, actor=principal, choice=choice)
    service.sign_out(session, principal.staff.id, actor=principal)
    return Response(status_code=204)


@router.get("/auth/me", response_model=StaffPublic)
def who_am_i(principal: ReceptionDep, session: ReadSessionDep) -> dict[str, Any]:
    """The signed-in staff user."""
    assert principal.staff is not None
    # Read afresh: the principal is cached for a few seconds, and its preferences may just have changed.
    return service.user_public(service.get_user(session, principal.staff.id))


@router.put("/auth/me/preferences", response_model=StaffPublic)
def set_my_preferences(body: StaffPreferences, principal: ReceptionDep, session: SessionDep) -> dict[str, Any]:
    """Your own workspace settings: `shortcuts_enabled` turns the single-letter shortcuts on or off (any staff
    role, reception included)."""
    assert principal.staff is not None
    user = service.set_preferences(
        session, principal.staff.id, shortcuts_enabled=body.shortcuts_enabled, actor=principal
    )
    return service.user_public(user)


@router.get("/users", response_model=list[StaffPublic])
def list_users(_: HeadOfficeDep, session: ReadSessionDep) -> list[dict[str, Any]]:
    """All staff accounts (head office: an admin account)."""
    return [service.user_public(u) for u in service.list_users(session)]


@router.post("/users", response_model=StaffPublic, status_code=201)
def create_user(body: StaffCreate, principal: HeadOfficeDep, session: SessionDep) -> dict[str, Any]:
    """Create a staff account (admin)."""
    user = service.create_user(
        session,
        username=body.username,
        password=body.password,
        role=Role(body.role),
        full_name=body.full_name,
        actor=principal,
    )
    return service.user_public(user)


@router.patch("/users/{user_id}", response_model=StaffPublic)
def update_user(user_id: ObjectId, body: StaffUpdate, principal: HeadOfficeDep, session: SessionDep) -> dict[str, Any]:
    """Change a staff account: password, role, name, active (admin)."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    user = service.update_user(session, user_id, changes=changes, actor=principal)
    return service.user_public(user)


@router.get("/users/{user_id}/branches", response_model=list[StaffBranchRolePublic])
def user_branches(user_id: ObjectId, _: HeadOfficeDep, session: ReadSessionDep) -> list[dict[str, Any]]:
    """The branches a staff account works in and its role in each (head office)."""
    service.get_user(session, user_id)
    return membership.branch_roles(session, user_id)


@router.put("/users/{user_id}/branches", response_model=list[StaffBranchRolePublic])
def set_user_branches(
    user_id: ObjectId, body: StaffBranchRolesUpdate, principal: HeadOfficeDep, session: SessionDep
) -> list[dict[str, Any]]:
    """Set the branches a staff account works in, with a role in each (head office). Its open event streams
    and signed-in pages follow the change at once."""
    roles = {item.branch_id: Role(item.role) for item in body.branches}
    if len(roles) != len(body.branches):
        raise ValidationFailed("A branch is listed twice; give each branch once, with one role.")
    return membership.set_branch_roles(session, user_id, roles=roles, actor=principal)


@router.put("/users/{user_id}/branches/{branch_id}", response_model=list[StaffBranchRolePublic])
def put_user_branch(
    user_id: ObjectId, branch_id: ObjectId, body: StaffBranchRoleChange, principal: HeadOfficeDep, session: SessionDep
) -> list[dict[str, Any]]:
    """Add one branch to a staff account with a role, or change its role there; its other branches stay (head
    office). Answers the account's branches."""
    return membership.put_branch_role(session, user_id, branch_id=branch_id, role=Role(body.role), actor=principal)


@router.delete(
    "/users/{user_id}/branches/{branch_id}",
    response_model=list[StaffBranchRolePublic],
    responses={409: {"description": "the account's last branch: deactivate the account instead"}},
)
def remove_user_branch(
    user_id: ObjectId, branch_id: ObjectId, principal: HeadOfficeDep, session: SessionDep
) -> list[dict[str, Any]]:
    """Take one branch away from a staff account (head office); not its last one (409). Its open event streams
    and signed-in pages in that branch stop at once. Answers the account's remaining branches."""
    return membership.remove_branch_role(session, user_id, branch_id=branch_id, actor=principal)
