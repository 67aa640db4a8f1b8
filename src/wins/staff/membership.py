"""Which branches a staff member works in, with a role in each (wins.staff.models.StaffBranchRole).

Read by wins.auth.staff_principal when a token or web session is resolved; changed here (head office: the
`/api/v1/users/{id}/branches` routes). A change ends the account's open event streams' trust at once: they
re-check their branch on the `auth.ended` event it writes, and the principal caches are emptied at commit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from wins import db_flags
from wins.audit.service import record_change
from wins.branches.models import Branch
from wins.errors import NotFound, ValidationFailed
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


def grant(session: Session, user: StaffUser, *, branch_ids: list[int] | None, role: Role) -> None:
    """Give a new account `role` in these branches (None: in every branch)."""
    if branch_ids is None:
        branch_ids = list(session.scalars(select(Branch.id)))
    for branch_id in branch_ids:
        session.add(StaffBranchRole(staff_id=user.id, branch_id=branch_id, role=Role(role)))
    session.flush()


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
    known = set(session.scalars(select(Branch.id).where(Branch.id.in_(list(roles)))))
    missing = sorted(set(roles) - known)
    if missing:
        raise ValidationFailed(f"Branch {missing[0]} does not exist; list the branches with GET /api/v1/branches.")
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
