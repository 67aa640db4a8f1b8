"""Staff accounts and the branches each works in, with a role per branch (head office: an account whose own
role is admin). The same services as `/api/v1/users` and `/api/v1/users/{id}/branches`, so a form accepts
exactly what the API accepts, and every change is audited by the service that makes it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from wins.branches import service as branches
from wins.deps import ObjectId, SessionDep
from wins.errors import ValidationFailed
from wins.schemas import StaffCreate, StaffUpdate, validated
from wins.staff import membership
from wins.staff import service as staff
from wins.staff.models import Role, StaffUser
from wins.web.admin import Form, Saved, _checked, _checked_values, _optional_int, _role, _submit, _text
from wins.web.pages import HeadOfficePage, page_actor, render

router = APIRouter(prefix="/admin", include_in_schema=False)


# -- users (admin) --------------------------------------------------------------------------------------


@router.get("/users")
def users_page(request: Request, _: HeadOfficePage, session: SessionDep) -> Response:
    context = {
        "title": "Users",
        "users": staff.list_users(session),
        "roles": list(Role),
        "branch_roles": membership.everyone_branch_roles(session),
    }
    return render(request, "admin/users.html", context)


@router.post("/users")
def create_user(request: Request, user: HeadOfficePage, session: SessionDep, form: Form) -> Response:
    def change() -> Saved:
        role = _role(form)
        password = form.get("password")
        values = {
            "username": _text(form, "username"),
            "password": password if isinstance(password, str) else "",
            "role": role,
            "full_name": _text(form, "full_name"),
        }
        checked = validated(StaffCreate, values)
        created = staff.create_user(
            session,
            username=checked.username,
            password=checked.password,
            role=checked.role,
            full_name=checked.full_name,
            actor=page_actor(request),
        )
        return Saved(f"Account {created.username} created.")

    return _submit(request, session, user, change, page=users_page, back="/admin/users")


@router.post("/users/{user_id}")
def update_user(request: Request, user_id: ObjectId, user: HeadOfficePage, session: SessionDep, form: Form) -> Response:
    def change() -> Saved:
        changes: dict[str, Any] = {
            "full_name": _text(form, "full_name"),
            "role": _role(form).value,
            "active": _checked(form, "active"),
        }
        password = form.get("password")
        if isinstance(password, str) and password:
            changes["password"] = password
        changes = _checked_values(StaffUpdate, changes, partial=True)
        updated: StaffUser = staff.update_user(session, user_id, changes=dict(changes), actor=page_actor(request))
        return Saved(f"Account {updated.username} saved.")  # fmt: skip

    return _submit(request, session, user, change, page=users_page, back="/admin/users")


# -- a user's branches (head office) ----------------------------------------------------------------------


def _user_branches_page(request: Request, session: Session, user_id: int) -> Response:
    account = staff.get_user(session, user_id)
    rows = membership.branch_roles(session, account.id)
    taken = {row["branch_id"] for row in rows}
    context = {
        "title": f"Branches of {account.username}",
        "account": account,
        "rows": rows,
        "roles": list(Role),
        "others": [b for b in branches.list_branches(session) if b.id not in taken],
        "head_office": Role(account.role) == Role.admin,
    }
    return render(request, "admin/user_branches.html", context)


@router.get("/users/{user_id}/branches")
def user_branches_page(request: Request, user_id: ObjectId, _: HeadOfficePage, session: SessionDep) -> Response:
    return _user_branches_page(request, session, user_id)


@router.post("/users/{user_id}/branches")
def put_user_branch(
    request: Request, user_id: ObjectId, user: HeadOfficePage, session: SessionDep, form: Form
) -> Response:
    """Add a branch with a role, or change the role in a branch the account already works in."""

    def change() -> Saved:
        branch_id = _optional_int(form, "branch_id", "Branch")
        if branch_id is None:
            raise ValidationFailed("Choose a branch.")
        role = _role(form)
        before = {row["branch_id"] for row in membership.branch_roles(session, user_id)}
        rows = membership.put_branch_role(session, user_id, branch_id=branch_id, role=role, actor=page_actor(request))
        name = next(row["branch_name"] for row in rows if row["branch_id"] == branch_id)
        account = staff.get_user(session, user_id).username
        if branch_id in before:
            return Saved(f"{account} is now {role.value} in {name}.")
        return Saved(f"{account} now works in {name} as {role.value}.")

    def page(request: Request, _: StaffUser, session: Session) -> Response:
        return _user_branches_page(request, session, user_id)

    return _submit(request, session, user, change, page=page, back=f"/admin/users/{user_id}/branches")


@router.post("/users/{user_id}/branches/{branch_id}/remove")
def remove_user_branch(
    request: Request, user_id: ObjectId, branch_id: ObjectId, user: HeadOfficePage, session: SessionDep
) -> Response:
    """Take a branch away (not the last one: the page says to deactivate the account instead)."""

    def change() -> Saved:
        name = branches.get_branch(session, branch_id).name
        membership.remove_branch_role(session, user_id, branch_id=branch_id, actor=page_actor(request))
        return Saved(f"{staff.get_user(session, user_id).username} no longer works in {name}.")

    def page(request: Request, _: StaffUser, session: Session) -> Response:
        return _user_branches_page(request, session, user_id)

    return _submit(request, session, user, change, page=page, back=f"/admin/users/{user_id}/branches")
