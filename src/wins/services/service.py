from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wins import clock
from wins.audit.service import record_change
from wins.auth import check_branch
from wins.branches.models import Branch
from wins.branches.service import branch_settings, get_branch
from wins.errors import Conflict, NotFound, ValidationFailed
from wins.events.service import record_event
from wins.schemas import ServiceHours, ServicePublic, fields_of, validated
from wins.services import hours
from wins.services.models import Service
from wins.staff.models import Role

if TYPE_CHECKING:
    from wins.auth import Principal

_PREFIX = re.compile(r"^[A-Z]{1,3}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def list_services(
    session: Session, *, branch_id: int | None = None, active_only: bool = False, include_archived: bool = False
) -> list[Service]:
    """The branch's services in display order: archived ones only with `include_archived`, and with
    `active_only` only those taking new tickets."""
    branch = get_branch(session, branch_id)
    query = select(Service).where(Service.branch_id == branch.id).order_by(Service.sort_order, Service.id)
    if active_only:
        query = query.where(Service.active.is_(True))
    if active_only or not include_archived:
        query = query.where(Service.archived_at.is_(None))
    return list(session.scalars(query))


def get_service(session: Session, service_id: int) -> Service:
    service = session.get(Service, service_id)
    if service is None:
        raise NotFound(f"Service {service_id} does not exist.")
    return service


def _check(session: Session, branch_id: int, values: dict[str, Any], *, exclude_id: int | None = None) -> None:
    if "prefix" in values:
        values["prefix"] = values["prefix"].strip().upper()
        if not _PREFIX.match(values["prefix"]):
            raise ValidationFailed("A ticket prefix is 1 to 3 letters A–Z, like 'A' or 'LN'.")
        clash = session.scalar(
            select(Service).where(Service.branch_id == branch_id, Service.prefix == values["prefix"])
        )
        if clash is not None and clash.id != exclude_id:
            raise Conflict(f"Prefix {values['prefix']} is already used by {clash.name}; pick another letter.")
    if "name" in values:
        values["name"] = values["name"].strip()
        if not values["name"]:
            raise ValidationFailed("A service needs a name.")
    if "colour" in values and not _COLOUR.match(values["colour"]):
        raise ValidationFailed("A colour is written like #1f6feb.")
    if values.get("hours") is not None:  # stored as ServiceHours dumps it: every key, checked again
        values["hours"] = validated(ServiceHours, values["hours"]).model_dump()


def create_service(
    session: Session, *, values: dict[str, Any], branch_id: int | None = None, actor: Principal | None
) -> Service:
    branch = get_branch(session, _in_branch(branch_id, actor))
    _check(session, branch.id, values)
    service = Service(branch_id=branch.id, **values)
    session.add(service)
    session.flush()
    record_event(session, "service.created", service_public(service, branch), branch_id=branch.id)
    record_change(session, actor, "service.create", {"service_id": service.id})
    return service


def update_service(session: Session, service_id: int, *, changes: dict[str, Any], actor: Principal | None) -> Service:
    fields = sorted(changes)  # before any key is taken out
    service = get_service(session, service_id)
    check_branch(actor, service.branch_id, Role.manager)
    if service.archived_at is not None:
        raise Conflict(f"{service.name} is archived; restore it before changing it.")
    _check(session, service.branch_id, changes, exclude_id=service.id)
    for key, value in changes.items():
        setattr(service, key, value)
    session.flush()
    branch = get_branch(session, service.branch_id)
    record_event(session, "service.updated", service_public(service, branch), branch_id=branch.id)
    record_change(session, actor, "service.update", {"service_id": service.id, "fields": fields})
    return service


def service_public(service: Service, branch: Branch) -> dict[str, Any]:
    """The service as ServicePublic, with whether it takes tickets now (its hours and the branch's holidays)."""
    now = clock.utcnow()
    if service.active and service.archived_at is None:
        state = hours.open_state(
            hours.opening_hours(service.hours),
            hours.holiday_dates(branch_settings(branch).holidays),
            now=now,
            timezone=branch.timezone,
        )
    else:
        state = hours.OpenState(False, None, None, None)
    return fields_of(
        ServicePublic,
        service,
        archived=service.archived_at is not None,
        open_now=state.open_now,
        opens_at=state.opens_at.isoformat() if state.opens_at else None,
        closes_at=state.last_ticket_at.isoformat() if state.last_ticket_at else None,
    )


def _in_branch(branch_id: int | None, actor: Principal | None) -> int | None:
    """Where something new goes: the branch given, else the branch the actor acts in (None: the only one)."""
    return branch_id if branch_id is not None else (actor.branch_id if actor is not None else None)
