from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wins import clock, db_flags
from wins.audit.service import record_change
from wins.auth import Principal, check_branch
from wins.branches.service import get_branch
from wins.devices.kiosk import HELP_KEY
from wins.devices.models import Device, DeviceKind
from wins.errors import Conflict, NotAuthenticated, NotFound, ValidationFailed
from wins.events.service import record_event, record_sign_in_ended
from wins.onetime import CodePurpose, consume_code, issue_code
from wins.schemas import (
    DeviceConfig,
    DeviceCreate,
    DevicePublic,
    DeviceStatusReport,
    DeviceUpdate,
    fields_of,
    read_stored,
    validated,
)
from wins.staff.models import Role
from wins.staff.security import hash_device_token, new_device_token

logger = logging.getLogger(__name__)


def create_device(
    session: Session,
    *,
    name: str,
    kind: DeviceKind,
    branch_id: int | None = None,
    config: dict[str, Any] | None = None,
    actor: Principal | None,
) -> tuple[Device, str]:
    """Create a kiosk or display. Returns the device and its token (shown once, only its hash is kept)."""
    name = name.strip()
    if not name:
        raise ValidationFailed("A device needs a name, like 'Entrance kiosk'.")
    body = validated(DeviceCreate, {"name": name, "kind": kind, "config": config or {}})
    branch = get_branch(session, _in_branch(branch_id, actor))
    token = new_device_token()
    device = Device(
        branch_id=branch.id,
        name=name,
        kind=DeviceKind(kind),
        token_hash=hash_device_token(token),
        token_hint=token[:8],
        config=body.config.model_dump(exclude_unset=True),
        status={},
    )
    session.add(device)
    session.flush()
    logger.info("%s device %r created", kind, name)
    record_change(session, actor, "device.create", {"device_id": device.id})
    return device, token


def get_device(session: Session, device_id: int) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(f"Device {device_id} does not exist.")
    return device


def list_devices(session: Session, *, branch_id: int | None = None) -> list[Device]:
    """The devices of a branch (None: of every branch)."""
    query = select(Device).order_by(Device.id)
    if branch_id is not None:
        query = query.where(Device.branch_id == branch_id)
    return list(session.scalars(query))


def revoke_device(session: Session, device_id: int, *, actor: Principal | None) -> Device:
    device = get_device(session, device_id)
    check_branch(actor, device.branch_id, Role.admin)
    if device.revoked_at is None:
        device.revoked_at = clock.utcnow()
        record_sign_in_ended(session, device_id=device.id)  # its open event streams close at once
    db_flags.note_credentials_changed(session)
    session.flush()
    record_change(session, actor, "device.revoke", {"device_id": device.id})
    return device


def rotate_token(session: Session, device_id: int, *, actor: Principal | None) -> tuple[Device, str]:
    device = get_device(session, device_id)
    check_branch(actor, device.branch_id, Role.admin)
    token = new_device_token()
    device.token_hash = hash_device_token(token)
    device.token_hint = token[:8]
    device.revoked_at = None
    db_flags.note_credentials_changed(session)
    record_sign_in_ended(session, device_id=device.id)  # streams opened with the old token close
    session.flush()
    record_change(session, actor, "device.rotate", {"device_id": device.id})
    return device, token


def device_config(device: Device) -> DeviceConfig:
    """The device's configuration, checked: a stored value that is no longer valid reads as its default."""
    return read_stored(DeviceConfig, device.config, what=f"device {device.id} config")


def device_status(device: Device) -> dict[str, Any]:
    """The device's last report (the keys it sent), checked like the configuration."""
    report = read_stored(DeviceStatusReport, device.status, what=f"device {device.id} status")
    return report.model_dump(exclude_none=True)


# Where each kind of screen opens its pairing link: a display board, or a tablet running the web kiosk.
PAIRING_PAGES = {DeviceKind.display: "/display", DeviceKind.kiosk: "/kiosk"}


def pairing_path(device: Device, code: str) -> str:
    """The address (without the base URL) a screen opens once to pair: `/display?pair=…` or `/kiosk?pair=…`."""
    return f"{PAIRING_PAGES[device.kind]}?pair={code}"


def create_pairing_code(
    session: Session, device_id: int, *, seconds: int, actor: Principal | None
) -> tuple[Device, str]:
    """A pairing code for a display or a web-kiosk tablet: opening `pairing_path(device, code)` on the screen
    within `seconds` pairs it, once. The device's long-lived token never travels in a URL (docs/security.md)."""
    device = get_device(session, device_id)
    check_branch(actor, device.branch_id, Role.admin)
    if device.kind not in PAIRING_PAGES:
        raise ValidationFailed(f"A {device.kind} is not paired with a link.")
    if device.revoked_at is not None:
        raise Conflict(f"{device.name} is revoked; give it a new token first, then a pairing link.")
    code = issue_code(session, purpose=CodePurpose.pair, seconds=seconds, device_id=device.id)
    record_change(session, actor, "device.pairing_code", {"device_id": device.id})
    return device, code


def use_pairing_code(session: Session, code: str) -> int:
    """Use up a pairing code (in its own transaction, so it is gone even if pairing then fails): its display's id."""
    grant = consume_code(session, code, purpose=CodePurpose.pair)
    if grant is None or grant.device_id is None:
        raise NotAuthenticated("This pairing link is unknown, used or expired. Ask an admin for a new one.")
    return grant.device_id


def pair_display(session: Session, device_id: int) -> Device:
    """The screen (display or web kiosk) that opened its pairing link, if it may still be paired (not revoked)."""
    device = get_device(session, device_id)
    if device.revoked_at is not None:
        raise NotAuthenticated(f"{device.name} was revoked. Ask an admin for a new token and pairing link.")
    logger.info("%s %r paired", DeviceKind(device.kind), device.name)
    record_change(session, Principal(device=device), "device.pair", {"device_id": device.id})  # the screen itself
    return device


def update_device(session: Session, device_id: int, *, changes: dict[str, Any], actor: Principal | None) -> Device:
    """Rename a device or change some keys of its configuration (a DeviceUpdate: the keys given replace theirs)."""
    update = validated(DeviceUpdate, changes)
    device = get_device(session, device_id)
    check_branch(actor, device.branch_id, Role.admin)
    if update.config is not None:
        _set_config(device, update.config.model_dump(exclude_unset=True))
    if update.name is not None:
        name = update.name.strip()
        if not name:
            raise ValidationFailed("A device needs a name, like 'Entrance kiosk'.")
        device.name = name
    session.flush()
    record_change(session, actor, "device.update", {"device_id": device.id})
    return device


def _set_config(device: Device, changes: dict[str, Any]) -> None:
    current = device_config(device).model_dump(exclude_unset=True)
    device.config = validated(DeviceConfig, {**current, **changes}).model_dump(exclude_unset=True)


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
    actor: Principal | None,
) -> Device:
    """What one display shows: which services and counters (none = all), the layout, how many recent calls,
    whether it speaks, and its title. The display page picks the change up by itself."""
    from wins.counters.models import Counter
    from wins.services.models import Service

    device = get_device(session, device_id)
    check_branch(actor, device.branch_id, Role.admin)
    if device.kind != DeviceKind.display:
        raise ValidationFailed(f"{device.name} is a {device.kind}; only displays have display settings.")
    changes = {
        "services": service_ids,
        "counters": counter_ids,
        "layout": layout,
        "history": history,
        "speech": speech,
        "title": title.strip(),
    }
    checked = validated(DeviceConfig, changes)  # bounds and types first: an id of 2**70 never reaches a query
    for service_id in checked.services:
        service = session.get(Service, service_id)
        if service is None or service.branch_id != device.branch_id:
            raise ValidationFailed(f"Service {service_id} does not exist in this branch.")
    for counter_id in checked.counters:
        counter = session.get(Counter, counter_id)
        if counter is None or counter.branch_id != device.branch_id:
            raise ValidationFailed(f"Counter {counter_id} does not exist in this branch.")
    _set_config(device, changes)
    session.flush()
    record_change(session, actor, "device.configure", {"device_id": device.id})
    return device


def report_status(session: Session, device: Device, *, status: dict[str, Any]) -> Device:
    """A device reports its health (e.g. the kiosk's printer: online, paper out …). Staff screens see it."""
    report = validated(DeviceStatusReport, status).model_dump(exclude_none=True)
    session.refresh(device, with_for_update=True)  # a help request writes this column too: no lost update
    if HELP_KEY in device.status:  # an open help request is the server's to clear, not the report's
        report[HELP_KEY] = device.status[HELP_KEY]
    changed = device.status != report
    device.status = report
    device.last_seen_at = clock.utcnow()
    session.flush()
    if changed:
        record_event(
            session,
            "device.status",
            {"device_id": device.id, "name": device.name, "kind": device.kind, "status": report},
            branch_id=device.branch_id,
        )
        logger.info("device %s reports %s", device.name, report)
    return device


def device_public(device: Device) -> dict[str, Any]:
    return fields_of(
        DevicePublic,
        device,
        revoked=device.revoked_at is not None,
        status=device_status(device),
        config=device_config(device).model_dump(),
        last_seen_at=device.last_seen_at.isoformat() if device.last_seen_at else None,
    )


def _in_branch(branch_id: int | None, actor: Principal | None) -> int | None:
    """Where something new goes: the branch given, else the branch the actor acts in (None: the only one)."""
    return branch_id if branch_id is not None else (actor.branch_id if actor is not None else None)
