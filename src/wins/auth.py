"""Who is calling: a staff user (signed token) or a device (kiosk/display token)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from wins import clock
from wins.devices.models import Device, DeviceKind
from wins.errors import NotAuthenticated, PermissionDenied
from wins.staff.models import Role, StaffUser
from wins.staff.security import STAFF_TOKEN_PURPOSE, hash_device_token, unsign


@dataclass(frozen=True)
class Principal:
    staff: StaffUser | None = None
    device: Device | None = None
    # The web session a browser signed in with (wins.web.session.session_key), so its sign-out can close the
    # event streams it opened; None for bearer tokens.
    session_key: str | None = None

    @property
    def role(self) -> Role | None:
        return Role(self.staff.role) if self.staff else None

    @property
    def key(self) -> str:
        """Who this is, for per-caller limits: one key per account or device, whatever token it uses."""
        if self.staff:
            return f"staff:{self.staff.id}"
        if self.device:
            return f"device:{self.device.id}"
        return "anonymous"

    @property
    def label(self) -> str:
        if self.staff:
            return f"staff:{self.staff.username}"
        if self.device:
            return f"device:{self.device.name}"
        return "anonymous"

    def require_staff(self, minimum: Role = Role.staff) -> StaffUser:
        if self.staff is None:
            raise PermissionDenied("This action needs a staff account.")
        if Role(self.staff.role).rank < minimum.rank:
            raise PermissionDenied(f"This action needs the {minimum.value} role or higher.")
        return self.staff

    def require_device_or_staff(self, kind: DeviceKind) -> None:
        if self.staff is not None:
            return
        if self.device is not None and self.device.kind == kind:
            return
        raise PermissionDenied(f"This action needs a staff account or a {kind.value} device token.")


def resolve_token(session: Session, token: str, *, secret_key: str, max_age: int) -> Principal:
    """Turn a bearer token into a principal, or raise NotAuthenticated."""
    if token.startswith("wdt_"):
        device = session.scalar(select(Device).where(Device.token_hash == hash_device_token(token)))
        if device is None or device.revoked_at is not None:
            raise NotAuthenticated("This device token is unknown or was revoked. Ask an admin for a new one.")
        return Principal(device=device)
    data = unsign(secret_key, STAFF_TOKEN_PURPOSE, token, max_age=max_age)
    if data is None:
        raise NotAuthenticated("Your sign-in has expired or is invalid. Sign in again.")
    staff = session.get(StaffUser, data.get("sid"))
    if staff is None or not staff.active or staff.token_version != data.get("v"):
        raise NotAuthenticated("Your sign-in is no longer valid. Sign in again.")
    return Principal(staff=staff)


def principal_still_valid(session: Session, principal: Principal) -> bool:
    """Whether `principal` would still be let in, read afresh from its row: the staff account still exists, is
    active and its sign-ins were not revoked since (a password change or deactivation bumps `token_version`);
    the device still exists, is not revoked and holds the same token (a new token voids the old one).
    Long-lived connections (the event stream) ask this again and again; it never raises."""
    if principal.staff is not None:
        row = session.execute(
            select(StaffUser.active, StaffUser.token_version).where(StaffUser.id == principal.staff.id)
        ).first()
        return row is not None and bool(row.active) and row.token_version == principal.staff.token_version
    if principal.device is not None:
        found = session.execute(
            select(Device.revoked_at, Device.token_hash).where(Device.id == principal.device.id)
        ).first()
        return found is not None and found.revoked_at is None and found.token_hash == principal.device.token_hash
    return False


def touch_device(device: Device) -> None:
    device.last_seen_at = clock.utcnow()


def client_address(conn: HTTPConnection) -> str:
    """The address sign-ins are throttled by: the peer, or the client a trusted proxy names (which
    wins.access_log.AccessLogMiddleware puts in the ASGI scope, see WINS_TRUSTED_PROXIES)."""
    return conn.client.host if conn.client is not None else "unknown"
