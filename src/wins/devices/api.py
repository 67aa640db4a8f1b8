from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from wins.deps import AdminDep, ObjectId, PrincipalDep, PublicBaseUrlDep, ReadSessionDep, SessionDep, SettingsDep
from wins.devices import service
from wins.devices.models import DeviceKind
from wins.errors import PermissionDenied
from wins.schemas import DeviceCreate, DevicePublic, DeviceStatus, DeviceUpdate, DeviceWithToken

router = APIRouter(tags=["devices"])


@router.get("/devices", response_model=list[DevicePublic])
def list_devices(_: AdminDep, session: ReadSessionDep) -> list[dict[str, Any]]:
    """Kiosks and displays with their last reported status (admin)."""
    return [service.device_public(d) for d in service.list_devices(session)]


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
    """A one-time pairing link for a display (admin). Opened on the screen, it gives the screen a new token in
    an HttpOnly cookie (a screen paired before with this display is unpaired). No long-lived token in a URL."""
    seconds = settings.pairing_code_seconds
    device, code = service.create_pairing_code(session, device_id, seconds=seconds, actor=principal)
    return {"code": code, "url": f"{base_url}/display?pair={code}", "expires_in": seconds}


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
