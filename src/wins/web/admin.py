"""Manager and admin pages: services, counters, branch settings (manager); staff users and devices (admin).
(Past 400 lines: one short handler per form, all of the `_submit` shape below, read best together; split it by
page when a page grows its own logic.)

Each form posts here, the route turns the fields into the arguments of the same service function the REST API
calls, and a refused change (duplicate prefix, short password …) shows the page again with the reason. Every
handler has that one shape, so it is written once, in `_submit`; the routes say only what differs.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from wins.branches import service as branches
from wins.config import Settings
from wins.counters import service as counters
from wins.deps import ObjectId, PublicBaseUrlDep, SessionDep, SettingsDep
from wins.devices import service as devices
from wins.devices.models import DeviceKind
from wins.errors import ValidationFailed, WinsError
from wins.join import service as join
from wins.schemas import (
    LOGO_MAX_BYTES,
    BranchUpdate,
    CounterCreate,
    CounterUpdate,
    ServiceCreate,
    ServiceRemoteUpdate,
    ServiceUpdate,
    validated,
)
from wins.services import service as services
from wins.staff.models import Role, StaffUser
from wins.web.pages import (
    AdminPage,
    ManagerPage,
    form_error,
    page_actor,
    page_branch,
    redirect_with_flash,
    render,
)

router = APIRouter(prefix="/admin", include_in_schema=False)


async def _form(request: Request) -> FormData:
    return await request.form()


Form = Annotated[FormData, Depends(_form)]


def _text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value.strip() if isinstance(value, str) else default


_WHOLE = re.compile(r"[+-]?[0-9]{1,12}")


def _whole(raw: str, label: str) -> int:
    # Plain ASCII digits, and not too many: int() also takes "٣" or "1_000" ("²".isdigit() is true but int()
    # refuses it); the schema checks the range afterwards.
    if not _WHOLE.fullmatch(raw):
        raise ValidationFailed(f"{label} must be a whole number.")
    return int(raw)


def _int(form: FormData, name: str, label: str, default: int = 0) -> int:
    raw = _text(form, name)
    return _whole(raw, label) if raw else default


def _optional_int(form: FormData, name: str, label: str) -> int | None:
    raw = _text(form, name)
    return _whole(raw, label) if raw else None


def _ids(form: FormData, name: str, label: str) -> list[int]:
    return [_whole(value.strip(), label) for value in form.getlist(name) if isinstance(value, str) and value.strip()]


M = TypeVar("M", bound=BaseModel)


def _checked_values(model: type[M], values: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """A form's values through the API's own schema, so a form accepts exactly what the API accepts."""
    return validated(model, values).model_dump(exclude_unset=partial)


def _checked(form: FormData, name: str) -> bool:
    return form.get(name) is not None


def _role(form: FormData) -> Role:
    role = _text(form, "role", "staff")
    if role not in Role.__members__:
        raise ValidationFailed("Choose a role: reception, staff, manager or admin.")
    return Role(role)


# The page a refused form is shown again on; every set-up page takes these three arguments.
PageView = Callable[[Request, StaffUser, Session], Response]


@dataclass(frozen=True)
class Saved:
    """What an accepted form did: the note for the next page (post/redirect/get) or, when `show` is given, the page
    to answer with instead (a new token is shown once, on this answer only). The service wrote the audit entry."""

    message: str = ""
    show: Callable[[], Response] | None = None


def _submit(
    request: Request, session: Session, user: StaffUser, change: Callable[[], Saved], *, page: PageView, back: str
) -> Response:
    """The shape of every set-up form (its CSRF token is checked by the page dependency): make the change (the
    service writes its audit entry), then redirect to `back` with a note; a refused change is rolled back and
    `page` shown again with the reason on top."""
    try:
        saved = change()
    except WinsError as exc:
        return form_error(request, session, exc, lambda: page(request, user, session))
    if saved.show is not None:
        return saved.show()
    return redirect_with_flash(back, saved.message)


# -- services (manager) ---------------------------------------------------------------------------------


def _service_values(form: FormData, model: type[ServiceCreate | ServiceUpdate]) -> dict[str, Any]:
    return _checked_values(model, {
        "name": _text(form, "name"),
        "prefix": _text(form, "prefix"),
        "colour": _text(form, "colour", "#1f6feb") or "#1f6feb",
        "active": _checked(form, "active"),
        "priority_weight": _int(form, "priority_weight", "Priority weight"),
        "sort_order": _int(form, "sort_order", "Order"),
        "target_wait_minutes": _optional_int(form, "target_wait_minutes", "Target wait"),
    }, partial=True)  # fmt: skip


def _archived(session: Session, branch_id: int | None) -> dict[str, Any]:
    """The archived services and counters, for the collapsed 'Archived' part of both lists (issue 13)."""
    all_services = services.list_services(session, branch_id=branch_id, include_archived=True)
    all_counters = counters.list_counters(session, branch_id=branch_id, include_archived=True)
    return {
        "archived_services": [s for s in all_services if s.archived_at],
        "archived_counters": [c for c in all_counters if c.archived_at],
    }


@router.get("/services")
def services_page(request: Request, _: ManagerPage, session: SessionDep) -> Response:
    branch_id = page_branch(request)
    found = services.list_services(session, branch_id=branch_id)
    remote = {s.id: join.remote_settings(session, s.id) for s in found}
    context = {"title": "Services", "services": found, "remote": remote, **_archived(session, branch_id)}
    return render(request, "admin/services.html", context)


@router.post("/services")
def create_service(request: Request, user: ManagerPage, session: SessionDep, form: Form) -> Response:
    def change() -> Saved:
        created = services.create_service(
            session,
            values=_service_values(form, ServiceCreate),
            actor=page_actor(request),
        )
        return Saved(f"Service {created.name} created: its tickets start with {created.prefix}.")  # fmt: skip

    return _submit(request, session, user, change, page=services_page, back="/admin/services")


@router.post("/services/{service_id}/remote")
def update_service_remote(
    request: Request, service_id: ObjectId, user: ManagerPage, session: SessionDep, form: Form
) -> Response:
    """A service's settings for customers who join from their phone: the same as PUT /api/v1/services/{id}/remote."""

    def change() -> Saved:
        values = _checked_values(ServiceRemoteUpdate, {
            "notify_ahead": _int(form, "notify_ahead", "Notify when this many are ahead", 3),
            "remote_daily_cap": _optional_int(form, "remote_daily_cap", "Phone tickets per day"),
            "arrival_checkin": _checked(form, "arrival_checkin"),
            "checkin_grace_minutes": _int(form, "checkin_grace_minutes", "Check-in grace time", 10),
        })  # fmt: skip
        row = join.set_remote(session, service_id, actor=page_actor(request), **values)
        name = services.get_service(session, row.service_id).name
        return Saved(f"Phone settings of {name} saved.")

    return _submit(request, session, user, change, page=services_page, back="/admin/services#phone")


@router.post("/services/{service_id}")
def update_service(
    request: Request, service_id: ObjectId, user: ManagerPage, session: SessionDep, form: Form
) -> Response:
    def change() -> Saved:
        changes = _service_values(form, ServiceUpdate)
        updated = services.update_service(session, service_id, changes=changes, actor=page_actor(request))
        return Saved(f"Service {updated.name} saved.")  # fmt: skip

    return _submit(request, session, user, change, page=services_page, back="/admin/services")


# -- counters (manager) ---------------------------------------------------------------------------------


def _service_order(form: FormData, session: Session, branch_id: int | None) -> list[int]:
    """Counter form: an order number per service ("1" first, empty = this counter does not call it)."""
    chosen: list[tuple[int, int, int]] = []
    for s in services.list_services(session, branch_id=branch_id):
        rank = _text(form, f"order_{s.id}")
        if not rank:
            continue
        chosen.append((_int(form, f"order_{s.id}", f"The order for {s.name}"), s.sort_order, s.id))
    return [service_id for _, _, service_id in sorted(chosen)]


@router.get("/counters")
def counters_page(request: Request, _: ManagerPage, session: SessionDep) -> Response:
    branch_id = page_branch(request)
    all_services = services.list_services(session, branch_id=branch_id)
    rows = [(c, counters.counter_public(session, c)) for c in counters.list_counters(session, branch_id=branch_id)]
    context = {"title": "Counters", "counters": rows, "services": all_services, **_archived(session, branch_id)}
    return render(request, "admin/counters.html", context)


@router.post("/counters")
def create_counter(request: Request, user: ManagerPage, session: SessionDep, form: Form) -> Response:
    def change() -> Saved:
        checked = validated(
            CounterCreate,
            {"name": _text(form, "name"), "service_ids": _service_order(form, session, page_branch(request))},
        )
        counter = counters.create_counter(
            session, name=checked.name, service_ids=checked.service_ids, actor=page_actor(request)
        )
        return Saved(f"Counter {counter.name} created.")

    return _submit(request, session, user, change, page=counters_page, back="/admin/counters")


@router.post("/counters/{counter_id}")
def update_counter(
    request: Request, counter_id: ObjectId, user: ManagerPage, session: SessionDep, form: Form
) -> Response:
    def change() -> Saved:
        changes = {
            "name": _text(form, "name"),
            "active": _checked(form, "active"),
            "service_ids": _service_order(form, session, page_branch(request)),
        }
        changes = _checked_values(CounterUpdate, changes, partial=True)
        counter = counters.update_counter(session, counter_id, changes=changes, actor=page_actor(request))
        return Saved(f"Counter {counter.name} saved.")  # fmt: skip

    return _submit(request, session, user, change, page=counters_page, back="/admin/counters")


# -- branch (manager) -----------------------------------------------------------------------------------


@router.get("/branch")
def branch_page(request: Request, _: ManagerPage, session: SessionDep) -> Response:
    branch = branches.get_branch(session, page_branch(request))
    settings = branches.branch_settings(branch)
    context = {"title": "Branch", "branch": branch, "settings": settings, "time_zones": branches.time_zone_names()}
    return render(request, "admin/branch.html", context)


def _logo(form: FormData) -> str | None:
    """The uploaded picture as a data: URL; BranchSettings then checks that the bytes are what the type says."""
    upload = form.get("logo")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = upload.file.read(LOGO_MAX_BYTES + 1)
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationFailed(f"The logo is too large; keep it under {LOGO_MAX_BYTES // 1024} KB.")
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    if content_type not in ("image/png", "image/jpeg", "image/webp"):
        raise ValidationFailed("The logo must be a PNG, JPEG or WebP picture.")
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


@router.post("/branch")
def update_branch(request: Request, user: ManagerPage, session: SessionDep, form: Form) -> Response:
    def change() -> Saved:
        languages = [code.strip().lower() for code in _text(form, "kiosk_languages").replace(";", ",").split(",")]
        languages = [code for code in languages if code]
        if not languages:
            raise ValidationFailed("Offer at least one language on the kiosk, e.g. 'en'.")
        settings: dict[str, Any] = {"slip_text": _text(form, "slip_text"), "kiosk_languages": languages}
        logo = _logo(form)
        if logo is not None:
            settings["logo"] = logo
        elif _checked(form, "remove_logo"):
            settings["logo"] = None
        changes = {
            "name": _text(form, "name"),
            "timezone": _text(form, "timezone"),
            "day_rollover_hour": _int(form, "day_rollover_hour", "Day starts at"),
            "settings": settings,
        }
        if not changes["name"]:
            raise ValidationFailed("The branch needs a name.")
        validated(BranchUpdate, changes)  # the service checks again; here first, so a bad field is named
        branch = branches.update_branch(
            session,
            branches.get_branch(session, page_branch(request)),
            changes=changes,
            actor=page_actor(request),
        )
        return Saved(f"Settings of {branch.name} saved.")

    return _submit(request, session, user, change, page=branch_page, back="/admin/branch")


# -- devices (admin) ------------------------------------------------------------------------------------


def _devices_page(
    request: Request,
    session: Session,
    *,
    new_token: tuple[str, str] | None = None,
    pairing: tuple[str, str, int] | None = None,
) -> Response:
    return render(
        request,
        "admin/devices.html",
        {
            "title": "Devices",
            "devices": devices.list_devices(session, branch_id=page_branch(request)),
            "new_token": new_token,
            "pairing": pairing,
            "services": services.list_services(session, branch_id=page_branch(request)),
            "counters": counters.list_counters(session, branch_id=page_branch(request)),
        },
    )


@router.get("/devices")
def devices_page(request: Request, _: AdminPage, session: SessionDep) -> Response:
    return _devices_page(request, session)


def _token_shown(request: Request, session: Session, name: str, token: str) -> Callable[[], Response]:
    # The token is shown on this answer only (never stored in clear), so no redirect here.
    return lambda: _devices_page(request, session, new_token=(name, token))


@router.post("/devices")
def create_device(
    request: Request, user: AdminPage, session: SessionDep, form: Form, settings: SettingsDep,
    base_url: PublicBaseUrlDep,
) -> Response:  # fmt: skip
    def change() -> Saved:
        kind = _text(form, "kind", "kiosk")
        if kind not in DeviceKind.__members__:
            raise ValidationFailed("A device is a kiosk or a display.")
        device, token = devices.create_device(
            session, name=_text(form, "name"), kind=DeviceKind(kind), actor=page_actor(request)
        )
        if device.kind == DeviceKind.display:  # a screen is paired with a one-time link, not its token
            return Saved(show=_pairing_shown(request, session, device.id, settings, base_url, user))
        return Saved(show=_token_shown(request, session, device.name, token))

    return _submit(request, session, user, change, page=devices_page, back="/admin/devices")


def _pairing_shown(
    request: Request, session: Session, device_id: int, settings: Settings, base_url: str, _user: StaffUser
) -> Callable[[], Response]:
    device, code = devices.create_pairing_code(
        session, device_id, seconds=settings.pairing_code_seconds, actor=page_actor(request)
    )
    link = (device.name, base_url + devices.pairing_path(device, code), max(1, settings.pairing_code_seconds // 60))
    return lambda: _devices_page(request, session, pairing=link)


@router.post("/devices/{device_id}/pair")
def pair_device(
    request: Request, device_id: ObjectId, user: AdminPage, session: SessionDep, settings: SettingsDep,
    base_url: PublicBaseUrlDep,
) -> Response:  # fmt: skip
    def change() -> Saved:
        return Saved(show=_pairing_shown(request, session, device_id, settings, base_url, user))

    return _submit(request, session, user, change, page=devices_page, back="/admin/devices")


@router.post("/devices/{device_id}/rotate")
def rotate_device(request: Request, device_id: ObjectId, user: AdminPage, session: SessionDep) -> Response:
    def change() -> Saved:
        device, token = devices.rotate_token(session, device_id, actor=page_actor(request))
        return Saved(show=_token_shown(request, session, device.name, token))

    return _submit(request, session, user, change, page=devices_page, back="/admin/devices")


@router.post("/devices/{device_id}/display")
def configure_display(
    request: Request, device_id: ObjectId, user: AdminPage, session: SessionDep, form: Form
) -> Response:
    def change() -> Saved:
        device = devices.configure_display(
            session,
            device_id,
            service_ids=_ids(form, "services", "A service id"),
            counter_ids=_ids(form, "counters", "A counter id"),
            layout=_text(form, "layout", "calls"),
            history=_int(form, "history", "Recent calls shown", default=6),
            speech=_checked(form, "speech"),
            title=_text(form, "title"),
            actor=page_actor(request),
        )
        return Saved(f"Display settings of {device.name} saved; the screen updates by itself.")  # fmt: skip

    return _submit(request, session, user, change, page=devices_page, back="/admin/devices")


@router.post("/devices/{device_id}/revoke")
def revoke_device(request: Request, device_id: ObjectId, user: AdminPage, session: SessionDep) -> Response:
    def change() -> Saved:
        device = devices.revoke_device(session, device_id, actor=page_actor(request))
        return Saved(f"The token of {device.name} is revoked; it stops working within seconds.")  # fmt: skip

    return _submit(request, session, user, change, page=devices_page, back="/admin/devices")
