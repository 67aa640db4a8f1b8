from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from wins.auth import Principal
from wins.deps import (
    AdminDep,
    ObjectId,
    PrincipalDep,
    PublicBaseUrlDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    StaffDep,
)
from wins.devices import kiosk, service
from wins.devices.models import Device, DeviceKind
from wins.errors import PermissionDenied
from wins.schemas import DeviceCreate, DevicePublic, DeviceStatus, DeviceUpdate, DeviceWithToken

router = APIRouter(tags=["devices"])


@router.get("/devices", response_model=list[DevicePublic])
def list_devices(principal: AdminDep, session: ReadSessionDep) -> list[dict[str, Any]]:
    """Kiosks and displays of the branch with their last reported status (admin)."""
    return [service.device_public(d) for d in service.list_devices(session, branch_id=principal.branch_id)]


@router.post("/devices", response_model=DeviceWithToken, status_code=201)
def create_device(body: DeviceCreate, principal: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Create a kiosk or display; the token in the answer is shown only this once (admin)."""
    config = body.config.model_dump(exclude_unset=True)
    device, token = service.create_device(
        session, name=body.name, kind=DeviceKind(body.kind), config=config, actor=principal
    )
    return {**service.device_public(device), "token": token}


@router.patch("/devices/{device_id}", response_model=DevicePublic)
def update_device(device_id: ObjectId, body: DeviceUpdate, principal: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Rename a device or change its configuration (admin)."""
    device = service.update_device(session, device_id, changes=body.model_dump(exclude_unset=True), actor=principal)
    return service.device_public(device)


@router.post("/devices/{device_id}/revoke", response_model=DevicePublic)
def revoke_device(device_id: ObjectId, principal: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Revoke a device's token: it stops working within seconds (admin)."""
    device = service.revoke_device(session, device_id, actor=principal)
    return service.device_public(device)


class DevicePairing(BaseModel):
    code: str = Field(description="One-time pairing code")
    url: str = Field(description="Open this on the display, once, within `expires_in` seconds")
    expires_in: int


@router.post("/devices/{device_id}/pairing-code", response_model=DevicePairing, status_code=201)
def create_pairing_code(
    device_id: ObjectId, principal: AdminDep, session: SessionDep, settings: SettingsDep, base_url: PublicBaseUrlDep
) -> dict[str, Any]:
    """A one-time pairing link for a display or a web-kiosk tablet (admin). Opened once on the screen, it gives
    the screen an HttpOnly cookie naming the device. No long-lived token in a URL."""
    seconds = settings.pairing_code_seconds
    device, code = service.create_pairing_code(session, device_id, seconds=seconds, actor=principal)
    return {"code": code, "url": base_url + service.pairing_path(device, code), "expires_in": seconds}


@router.get("/devices/me", response_model=DevicePublic)
def this_device(principal: PrincipalDep) -> dict[str, Any]:
    """The calling device (kiosk or display) and its configuration."""
    if principal.device is None:
        raise PermissionDenied("Only a device token can ask who it is.")
    return service.device_public(principal.device)


@router.post("/devices/me/status", response_model=DevicePublic)
def report_status(body: DeviceStatus, principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """A device reports its health, e.g. the kiosk's printer state; staff screens show it."""
    if principal.device is None:
        raise PermissionDenied("Only a device token can report device status.")
    status = body.status.model_dump(exclude_unset=True)
    device = service.report_status(session, service.get_device(session, principal.device.id), status=status)
    return service.device_public(device)


# -- kiosk: help and priority ---------------------------------------------------------------------------


@router.get("/devices/me/kiosk")
def kiosk_setup(principal: PrincipalDep, session: ReadSessionDep) -> dict[str, Any]:
    """What this kiosk offers beyond services: the branch's priority categories shown on kiosks (when the
    kiosk's configuration has `allow_priority`)."""
    device = _kiosk_device(principal)
    return kiosk.kiosk_setup(session, service.get_device(session, device.id))


@router.post("/devices/me/help")
def request_help(principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """A customer asks for help at this kiosk: staff screens show "Help needed at <kiosk>" until a member of
    staff acknowledges it (event `device.help_requested`)."""
    device = _kiosk_device(principal)
    return kiosk.request_help(session, service.get_device(session, device.id))


@router.get("/devices/help")
def open_help_requests(principal: StaffDep, session: ReadSessionDep) -> list[dict[str, Any]]:
    """Kiosks of the branch where a customer is waiting for help, oldest first (staff)."""
    return kiosk.pending_help(service.list_devices(session, branch_id=principal.branch_id))


@router.post("/devices/{device_id}/help/acknowledge")
def acknowledge_help(device_id: ObjectId, principal: StaffDep, session: SessionDep) -> dict[str, Any]:
    """Someone is on the way: clears the alert on every staff screen and tells the kiosk (event
    `device.help_acknowledged`); a second acknowledge answers 409 (staff)."""
    device = service.get_device(session, device_id)
    return kiosk.acknowledge_help(session, device, actor=principal)


def _kiosk_device(principal: Principal) -> Device:
    if principal.device is None or principal.device.kind != DeviceKind.kiosk:
        raise PermissionDenied("Only a kiosk device token can do this.")
    return principal.device
