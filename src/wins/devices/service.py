from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wins import clock
from wins.branches.service import get_branch
from wins.devices.kiosk import HELP_KEY
from wins.devices.models import Device, DeviceKind
from wins.errors import NotFound, ValidationFailed
from wins.events.service import record_event
from wins.staff.security import hash_device_token, new_device_token

logger = logging.getLogger(__name__)


def create_device(
    session: Session, *, name: str, kind: DeviceKind, branch_id: int | None = None, config: dict[str, Any] | None = None
) -> tuple[Device, str]:
    """Create a kiosk or display. Returns the device and its token (shown once, only its hash is kept)."""
    name = name.strip()
    if not name:
        raise ValidationFailed("A device needs a name, like 'Entrance kiosk'.")
    branch = get_branch(session, branch_id)
    token = new_device_token()
    device = Device(
        branch_id=branch.id,
        name=name,
        kind=DeviceKind(kind),
        token_hash=hash_device_token(token),
        token_hint=token[:8],
        config=config or {},
        status={},
    )
    session.add(device)
    session.flush()
    logger.info("%s device %r created", kind, name)
    return device, token


def get_device(session: Session, device_id: int) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(f"Device {device_id} does not exist.")
    return device


def list_devices(session: Session) -> list[Device]:
    return list(session.scalars(select(Device).order_by(Device.id)))


def revoke_device(session: Session, device_id: int) -> Device:
    device = get_device(session, device_id)
    device.revoked_at = device.revoked_at or clock.utcnow()
    session.flush()
    return device


def rotate_token(session: Session, device_id: int) -> tuple[Device, str]:
    device = get_device(session, device_id)
    token = new_device_token()
    device.token_hash = hash_device_token(token)
    device.token_hint = token[:8]
    device.revoked_at = None
    session.flush()
    return device, token


def update_device(session: Session, device_id: int, *, changes: dict[str, Any]) -> Device:
    device = get_device(session, device_id)
    if "config" in changes:
        device.config = {**device.config, **(changes.pop("config") or {})}
    for key, value in changes.items():
        setattr(device, key, value)
    session.flush()
    return device


DISPLAY_LAYOUTS = ("calls", "counters")


def configure_display(
    session: Session,
    device_id: int,
    *,
    service_ids: list[int],
    counter_ids: list[int],
    layout: str,
    history: int,
    speech: bool,
    title: str,
) -> Device:
    """What one display shows: which services and counters (none = all), the layout, how many recent calls,
    whether it speaks, and its title. The display page picks the change up by itself."""
    from wins.counters.models import Counter
    from wins.services.models import Service

    device = get_device(session, device_id)
    if device.kind != DeviceKind.display:
        raise ValidationFailed(f"{device.name} is a {device.kind}; only displays have display settings.")
    if layout not in DISPLAY_LAYOUTS:
        raise ValidationFailed("Choose a layout: 'calls' (latest call large) or 'counters' (one tile per counter).")
    if not 1 <= history <= 12:
        raise ValidationFailed("Recent calls shown must be between 1 and 12.")
    for service_id in service_ids:
        service = session.get(Service, service_id)
        if service is None or service.branch_id != device.branch_id:
            raise ValidationFailed(f"Service {service_id} does not exist in this branch.")
    for counter_id in counter_ids:
        counter = session.get(Counter, counter_id)
        if counter is None or counter.branch_id != device.branch_id:
            raise ValidationFailed(f"Counter {counter_id} does not exist in this branch.")
    device.config = {
        **device.config,
        "services": service_ids,
        "counters": counter_ids,
        "layout": layout,
        "history": history,
        "speech": speech,
        "title": title.strip()[:80],
    }
    session.flush()
    return device


def report_status(session: Session, device: Device, *, status: dict[str, Any]) -> Device:
    """A device reports its health (e.g. the kiosk's printer: online, paper out …). Staff screens see it."""
    if HELP_KEY in device.status:  # an open help request is the server's to clear, not the report's
        status = {**status, HELP_KEY: device.status[HELP_KEY]}
    changed = device.status != status
    device.status = status
    device.last_seen_at = clock.utcnow()
    session.flush()
    if changed:
        record_event(
            session,
            "device.status",
            {"device_id": device.id, "name": device.name, "kind": device.kind, "status": status},
            branch_id=device.branch_id,
        )
        logger.info("device %s reports %s", device.name, status)
    return device


def device_public(device: Device) -> dict[str, Any]:
    return {
        "id": device.id,
        "name": device.name,
        "kind": device.kind,
        "token_hint": device.token_hint,
        "revoked": device.revoked_at is not None,
        "status": device.status,
        "config": device.config,
        "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
    }
