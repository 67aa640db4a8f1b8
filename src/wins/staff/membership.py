"""Which branches a staff member works in, with a role in each (wins.staff.models.StaffBranchRole).

Read by wins.auth.staff_principal when a token or web session is resolved; changed here (head office: the
`/api/v1/users/{id}/branches` routes, the Users admin page, `wins users add-branch/remove-branch`). A change
ends the account's open event streams' trust at once: they re-check their branch on the `auth.ended` event it
writes, and the principal caches are emptied at commit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from wins import db_flags
from wins.audit.service import record_change
from wins.branches.models import Branch
from wins.errors import Conflict, NotFound, ValidationFailed
from wins.events.service import record_sign_in_ended
from wins.staff.models import Role, StaffBranchRole, StaffUser

if TYPE_CHECKING:
    from wins.auth import Principal


def branch_roles(session: Session, staff_id: int) -> list[dict[str, Any]]:
    """[{"branch_id", "branch_name", "role"}] of an account, by branch id."""
    rows = session.execute(
        select(StaffBranchRole.branch_id, Branch.name, StaffBranchRole.role)
        .join(Branch, Branch.id == StaffBranchRole.branch_id)
        .where(StaffBranchRole.staff_id == staff_id)
        .order_by(StaffBranchRole.branch_id)
    )
    return [{"branch_id": r.branch_id, "branch_name": r.name, "role": Role(r.role)} for r in rows]


def everyone_branch_roles(session: Session) -> dict[int, list[dict[str, Any]]]:
    """`branch_roles` of every account at once, by staff id (the Users page)."""
    rows = session.execute(
        select(StaffBranchRole.staff_id, StaffBranchRole.branch_id, Branch.name, StaffBranchRole.role)
        .join(Branch, Branch.id == StaffBranchRole.branch_id)
        .order_by(StaffBranchRole.staff_id, StaffBranchRole.branch_id)
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r.staff_id, []).append({"branch_id": r.branch_id, "branch_name": r.name, "role": Role(r.role)})
    return out


def grant(session: Session, user: StaffUser, *, branch_ids: list[int] | None, role: Role) -> None:
    """Give a new account `role` in these branches (None: in every branch)."""
    if branch_ids is None:
        branch_ids = list(session.scalars(select(Branch.id)))
    for branch_id in branch_ids:
        session.add(StaffBranchRole(staff_id=user.id, branch_id=branch_id, role=Role(role)))
    session.flush()


def check_branches(session: Session, branch_ids: list[int]) -> None:
    """Refuse (422) a list naming a branch that does not exist."""
    if not branch_ids:
        raise ValidationFailed("Give at least one branch; to stop an account working anywhere, deactivate it.")
    known = set(session.scalars(select(Branch.id).where(Branch.id.in_(branch_ids))))
    missing = sorted(set(branch_ids) - known)
    if missing:
        raise ValidationFailed(f"Branch {missing[0]} does not exist; list the branches with GET /api/v1/branches.")


def follow_role_change(session: Session, user: StaffUser, role: Role) -> None:
    """The account's own role changed (Users page, PATCH /users): it takes that role in each of its branches."""
    session.execute(update(StaffBranchRole).where(StaffBranchRole.staff_id == user.id).values(role=Role(role)))


def set_branch_roles(
    session: Session, staff_id: int, *, roles: dict[int, Role], actor: Principal | None
) -> list[dict[str, Any]]:
    """Replace an account's branches and roles with `roles` (branch id -> role), at least one (to stop an account
    working anywhere, deactivate it). A head-office admin acts everywhere whatever is listed: that comes from
    the account's own role."""
    user = session.get(StaffUser, staff_id)
    if user is None:
        raise NotFound(f"Staff user {staff_id} does not exist.")
    if not roles:
        raise ValidationFailed("Give at least one branch; to stop an account working anywhere, deactivate it.")
    check_branches(session, list(roles))
    session.execute(delete(StaffBranchRole).where(StaffBranchRole.staff_id == staff_id))
    for branch_id, role in sorted(roles.items()):
        session.add(StaffBranchRole(staff_id=staff_id, branch_id=branch_id, role=Role(role)))
    session.flush()
    # Open streams and cached sign-ins re-read the account's branches now, not seconds later.
    db_flags.note_credentials_changed(session)
    record_sign_in_ended(session, staff_id=staff_id)
    record_change(
        session,
        actor,
        "user.branches",
        {"user_id": staff_id, "branches": {str(b): Role(r).value for b, r in sorted(roles.items())}},
    )
    return branch_roles(session, staff_id)


def find_branch(session: Session, ref: str) -> Branch:
    """A branch by its number or its exact name (case does not matter), as `wins users --branch` takes it."""
    ref = ref.strip()
    branch = session.get(Branch, int(ref)) if ref.isdigit() and len(ref) < 18 else None
    if branch is None:
        branch = session.scalar(select(Branch).where(func.lower(Branch.name) == ref.lower()).order_by(Branch.id))
    if branch is None:
        known = ", ".join(f"{b.id} ({b.name})" for b in session.scalars(select(Branch).order_by(Branch.id)))
        raise NotFound(
            f"There is no branch {ref!r}. Give a branch's number or exact name: {known or 'none yet (wins setup)'}."
        )
    return branch


def _current(session: Session, staff_id: int) -> dict[int, Role]:
    return {row["branch_id"]: row["role"] for row in branch_roles(session, staff_id)}


def put_branch_role(
    session: Session, staff_id: int, *, branch_id: int, role: Role, actor: Principal | None
) -> list[dict[str, Any]]:
    """Add a branch to an account with `role`, or change its role there; its other branches stay. An account
    with no branch of its own works in the first branch with its own role (wins.auth.staff_principal): that
    branch stays too, now written down."""
    roles = _current(session, staff_id)
    user = session.get(StaffUser, staff_id)
    first = session.scalar(select(Branch.id).order_by(Branch.id).limit(1))
    if not roles and user is not None and first is not None:
        roles[first] = Role(user.role)
    roles[branch_id] = Role(role)
    return set_branch_roles(session, staff_id, roles=roles, actor=actor)


def remove_branch_role(
    session: Session, staff_id: int, *, branch_id: int, actor: Principal | None
) -> list[dict[str, Any]]:
    """Take a branch away from an account; not its last one (to stop an account working anywhere, deactivate it)."""
    user = session.get(StaffUser, staff_id)
    if user is None:
        raise NotFound(f"Staff user {staff_id} does not exist.")
    roles = _current(session, staff_id)
    if branch_id not in roles:
        raise NotFound(f"{user.username} does not work in branch {branch_id}; nothing to remove.")
    if len(roles) == 1:
        raise Conflict(
            f"Branch {branch_id} is the only branch of {user.username}: an account needs at least one. Add the "
            "account to another branch first, or deactivate the account to stop it working anywhere."
        )
    del roles[branch_id]
    return set_branch_roles(session, staff_id, roles=roles, actor=actor)
