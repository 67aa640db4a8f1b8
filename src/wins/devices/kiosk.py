"""What a kiosk needs beyond tickets: calling a member of staff ("I need help") and the priority categories
it may offer.

A help request is kept in the device's `status` (so a staff page opened later still shows it) and announced on
the event stream; acknowledging it clears it everywhere. Priority categories are a branch setting,
`priority_categories`, checked by `wins.schemas.PriorityCategory` (part of `BranchSettings`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from wins import clock
from wins.audit.service import record_change
from wins.branches.service import get_branch
from wins.devices.models import Device, DeviceKind
from wins.errors import Conflict, ValidationFailed
from wins.events.service import record_event
from wins.schemas import PriorityCategory

if TYPE_CHECKING:
    from wins.auth import Principal

logger = logging.getLogger(__name__)

HELP_KEY = "help_requested_at"


PRIORITY_CATEGORIES = TypeAdapter(list[PriorityCategory])


def priority_categories(settings: dict[str, Any]) -> list[PriorityCategory]:
    """The branch's `priority_categories` setting, checked (a bad value is a clear 4xx, not a 500)."""
    raw = settings.get("priority_categories") or []
    try:
        categories = PRIORITY_CATEGORIES.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(f"priority_categories{'.' + where if where else ''}: {first['msg']}") from exc
    keys = [c.key for c in categories]
    if len(set(keys)) != len(keys):
        raise ValidationFailed("priority_categories: each category needs its own key.")
    return categories


def kiosk_setup(session: Session, device: Device) -> dict[str, Any]:
    """What a kiosk offers beyond services: the priority categories, when this kiosk may issue priority
    tickets (its `allow_priority` configuration) and the branch offers some on kiosks."""
    branch = get_branch(session, device.branch_id)
    try:
        categories = [c for c in priority_categories(branch.settings) if c.on_kiosk]
    except ValidationFailed as exc:
        logger.warning("branch setting ignored for kiosks: %s", exc.message)
        categories = []
    allowed = bool(device.config.get("allow_priority"))
    return {
        "device_id": device.id,
        "name": device.name,
        "priority_allowed": allowed,
        "priority_categories": [c.model_dump() for c in categories] if allowed else [],
    }


def request_help(session: Session, device: Device) -> dict[str, Any]:
    """A customer pressed "I need help" on this kiosk: staff screens raise an alert until one acknowledges.
    Pressing again while the request is open does not raise a second alert."""
    if device.kind != DeviceKind.kiosk:
        raise ValidationFailed("Only a kiosk can call for help.")
    # The status column is also written by the kiosk's own reports: lock the row so neither write is lost.
    session.refresh(device, with_for_update=True)
    pending = device.status.get(HELP_KEY)
    if pending:
        return {"device_id": device.id, "name": device.name, "at": pending, "repeated": True}
    at = clock.utcnow().isoformat()
    device.status = {**device.status, HELP_KEY: at}
    session.flush()
    data = {"device_id": device.id, "name": device.name, "at": at}
    record_event(session, "device.help_requested", data, branch_id=device.branch_id)
    logger.warning("help requested at kiosk %s", device.name)
    return {**data, "repeated": False}


def acknowledge_help(session: Session, device: Device, *, actor: Principal) -> dict[str, Any]:
    """A member of staff is on the way: every staff screen clears the alert, the kiosk tells the customer."""
    actor.require_branch(device.branch_id)
    session.refresh(device, with_for_update=True)
    pending = device.status.get(HELP_KEY)
    if not pending:
        raise Conflict(f"Nobody is waiting for help at {device.name} (already acknowledged).")
    device.status = {k: v for k, v in device.status.items() if k != HELP_KEY}
    session.flush()
    data = {"device_id": device.id, "name": device.name, "requested_at": pending, "by": actor.label}
    record_event(session, "device.help_acknowledged", data, branch_id=device.branch_id)
    record_change(session, actor, "device.help_acknowledge", {"device_id": device.id})
    logger.info("help at %s acknowledged by %s", device.name, actor.label)
    return data


def pending_help(devices: list[Device]) -> list[dict[str, Any]]:
    """Open help requests, oldest first (for staff pages that open after the alert was raised)."""
    rows = [
        {"device_id": d.id, "name": d.name, "at": d.status.get(HELP_KEY)}
        for d in devices
        if d.revoked_at is None and d.status.get(HELP_KEY)
    ]
    return sorted(rows, key=lambda r: str(r["at"]))
