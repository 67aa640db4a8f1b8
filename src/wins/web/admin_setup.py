"""Set-up pages (issue 13): the branches (first run, list, create), retiring services and counters (delete a
never-used one, archive a used one after deciding about its waiting tickets, restore), and where `/admin` leads.

Same shape as `wins.web.admin`: each form calls the service the REST API calls, through `admin._submit`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from wins.branches import service as branches
from wins.counters import service as counters
from wins.deps import ObjectId, SessionDep
from wins.errors import ValidationFailed
from wins.schemas import BranchCreate, validated
from wins.services import retire
from wins.services import service as services
from wins.staff.models import Role, StaffUser
from wins.tickets.models import IS_HELD, Ticket
from wins.web.admin import Form, Saved, _int, _submit, _text, services_page
from wins.web.pages import AdminPage, ManagerPage, StaffPage, page_actor, render

router = APIRouter(include_in_schema=False)


def _languages(raw: str) -> list[str]:
    codes = [code.strip().lower() for code in raw.replace(";", ",").split(",") if code.strip()]
    if not codes:
        raise ValidationFailed("Offer at least one language, e.g. 'en' (or 'en, fr').")
    return codes


@router.get("/admin")
def admin_home(request: Request, user: StaffPage, session: SessionDep) -> Response:
    """The first admin page the account may use: the first-run page on a site without a branch. The role that
    counts is the one in the branch the pages act in, not the account's own."""
    if Role(user.role).rank >= Role.admin.rank and not branches.has_branch(session):
        return RedirectResponse("/admin/branches", status_code=303)
    role = page_actor(request).role
    if role is not None and role.rank >= Role.manager.rank:
        return RedirectResponse("/admin/services", status_code=303)
    return RedirectResponse("/staff", status_code=303)


# -- branches (admin) -----------------------------------------------------------------------------------


@router.get("/admin/branches")
def branches_page(request: Request, _: AdminPage, session: SessionDep) -> Response:
    """Every branch, and a form to add one; on a site without a branch this is the first-run page."""
    rows = branches.list_branches(session)
    return render(
        request,
        "admin/branches.html",
        {
            "title": "Set up your site" if not rows else "Branches",
            "branches": rows,
            "first_run": not rows,
            "time_zones": branches.time_zone_names(),
        },
    )


@router.post("/admin/branches")
def create_branch(request: Request, user: AdminPage, session: SessionDep, form: Form) -> Response:
    first = not branches.has_branch(session)

    def change() -> Saved:
        checked = validated(
            BranchCreate,
            {
                "name": _text(form, "name"),
                "timezone": _text(form, "timezone"),
                "day_rollover_hour": _int(form, "day_rollover_hour", "New day starts at"),
                "languages": _languages(_text(form, "languages")),
            },
        )
        branch = branches.create_branch(
            session,
            name=checked.name,
            timezone=checked.timezone,
            day_rollover_hour=checked.day_rollover_hour,
            languages=checked.languages,
            actor=page_actor(request),
        )
        if first:
            return Saved(f"Branch {branch.name} created. Next: add the services customers queue for.")
        return Saved(f"Branch {branch.name} created.")

    return _submit(
        request, session, user, change, page=branches_page, back="/admin/services" if first else "/admin/branches"
    )


# -- retiring services (manager) ------------------------------------------------------------------------


def _service_retire_page(request: Request, session: Session, service_id: int) -> Response:
    service = services.get_service(session, service_id)
    page_actor(request).require_branch(service.branch_id, Role.manager)  # the service's branch, not the picker's
    waiting = retire.waiting_tickets(session, service) if service.archived_at is None else []
    targets = [
        s for s in services.list_services(session, branch_id=service.branch_id, active_only=True) if s.id != service.id
    ]
    return render(
        request,
        "admin/retire_service.html",
        {
            "title": f"Retire {service.name}",
            "service": service,
            "used": retire.service_is_used(session, service.id),
            "waiting": len(waiting),
            "targets": targets,
        },
    )


@router.get("/admin/services/{service_id}/retire")
def retire_service_page(request: Request, service_id: ObjectId, _: ManagerPage, session: SessionDep) -> Response:
    return _service_retire_page(request, session, service_id)


@router.post("/admin/services/{service_id}/delete")
def delete_service(request: Request, service_id: ObjectId, user: ManagerPage, session: SessionDep) -> Response:
    def change() -> Saved:
        name = services.get_service(session, service_id).name
        retire.delete_service(session, service_id, actor=page_actor(request))
        return Saved(f"Service {name} deleted.")

    def page(request: Request, _: StaffUser, session: Session) -> Response:
        return _service_retire_page(request, session, service_id)

    return _submit(request, session, user, change, page=page, back="/admin/services")


@router.post("/admin/services/{service_id}/archive")
def archive_service(
    request: Request, service_id: ObjectId, user: ManagerPage, session: SessionDep, form: Form
) -> Response:
    def change() -> Saved:
        choice = _text(form, "waiting")
        if choice not in ("", "transfer", "cancel"):
            raise ValidationFailed("Choose what happens to the waiting tickets: move them or cancel them.")
        target = _int(form, "to_service_id", "The service that takes the waiting tickets", default=0)
        archived = retire.archive_service(
            session,
            service_id,
            waiting="transfer" if choice == "transfer" else "cancel" if choice == "cancel" else None,
            to_service_id=target or None,
            actor=page_actor(request),
        )
        return Saved(f"Service {archived.name} archived: it is gone from kiosks and screens, and kept in reports.")

    def page(request: Request, _: StaffUser, session: Session) -> Response:
        return _service_retire_page(request, session, service_id)

    return _submit(request, session, user, change, page=page, back="/admin/services")


@router.post("/admin/services/{service_id}/restore")
def restore_service(request: Request, service_id: ObjectId, user: ManagerPage, session: SessionDep) -> Response:
    def change() -> Saved:
        restored = retire.restore_service(session, service_id, actor=page_actor(request))
        return Saved(f"Service {restored.name} is back, not issuing yet: tick 'Issuing' when it is ready.")

    return _submit(request, session, user, change, page=services_page, back="/admin/services")


# -- retiring counters (manager) ------------------------------------------------------------------------


def _counter_retire_page(request: Request, session: Session, counter_id: int) -> Response:
    counter = counters.get_counter(session, counter_id)
    page_actor(request).require_branch(counter.branch_id, Role.manager)  # the counter's branch, not the picker's
    held = session.scalar(select(Ticket).where(Ticket.counter_id == counter.id, IS_HELD))
    return render(
        request,
        "admin/retire_counter.html",
        {
            "title": f"Retire counter {counter.name}",
            "counter": counter,
            "used": counters.counter_is_used(session, counter.id),
            "held": held,
        },
    )


@router.get("/admin/counters/{counter_id}/retire")
def retire_counter_page(request: Request, counter_id: ObjectId, _: ManagerPage, session: SessionDep) -> Response:
    return _counter_retire_page(request, session, counter_id)


def _counter_change(request: Request, session: Session, user: StaffUser, counter_id: int, action: str) -> Response:
    def change() -> Saved:
        actor = page_actor(request)
        if action == "delete":
            name = counters.get_counter(session, counter_id).name
            counters.delete_counter(session, counter_id, actor=actor)
            return Saved(f"Counter {name} deleted.")
        if action == "archive":
            counter = counters.archive_counter(session, counter_id, actor=actor)
            return Saved(f"Counter {counter.name} archived: gone from the workspace and screens, kept in reports.")
        counter = counters.restore_counter(session, counter_id, actor=actor)
        return Saved(f"Counter {counter.name} is back, switched off: switch it on when it is staffed.")

    def page(request: Request, _: StaffUser, session: Session) -> Response:
        return _counter_retire_page(request, session, counter_id)

    return _submit(request, session, user, change, page=page, back="/admin/counters")


@router.post("/admin/counters/{counter_id}/delete")
def delete_counter(request: Request, counter_id: ObjectId, user: ManagerPage, session: SessionDep) -> Response:
    return _counter_change(request, session, user, counter_id, "delete")


@router.post("/admin/counters/{counter_id}/archive")
def archive_counter(request: Request, counter_id: ObjectId, user: ManagerPage, session: SessionDep) -> Response:
    return _counter_change(request, session, user, counter_id, "archive")


@router.post("/admin/counters/{counter_id}/restore")
def restore_counter(request: Request, counter_id: ObjectId, user: ManagerPage, session: SessionDep) -> Response:
    return _counter_change(request, session, user, counter_id, "restore")
