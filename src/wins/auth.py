"""Who is calling: a staff user (signed token) or a device (kiosk/display token)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from wins import clock
from wins.branches.models import Branch
from wins.devices.models import Device, DeviceKind
from wins.errors import NotAuthenticated, NotFound, PermissionDenied
from wins.staff.models import Role, StaffBranchRole, StaffUser
from wins.staff.security import STAFF_TOKEN_PURPOSE, hash_device_token, unsign


@dataclass(frozen=True)
class Principal:
    staff: StaffUser | None = None
    device: Device | None = None
    # The web session a browser signed in with (wins.web.session.session_key), so its sign-out can close the
    # event streams it opened; None for bearer tokens.
    session_key: str | None = None
    # Staff: the role in each branch the account may act in, (branch id, role) by branch id, read with the
    # account (`staff_principal`); a head-office admin has every branch, as admin. Empty for devices.
    branch_roles: tuple[tuple[int, Role], ...] = ()
    # The branch this request acts on (`acting_in`): a device's own branch; for staff the one chosen with the
    # X-WINS-Branch header, `?branch=` or the workspace's cookie, else their first branch. None: no branch yet.
    branch_id: int | None = None

    @property
    def head_office(self) -> bool:
        """An admin account (its own role is admin): admin in every branch, and may look across all of them."""
        return self.staff is not None and Role(self.staff.role) == Role.admin

    @property
    def role(self) -> Role | None:
        """The staff role in the branch this request acts on (the account's own role when no branch is set)."""
        if self.staff is None:
            return None
        if self.branch_id is None:
            return Role(self.staff.role)
        return self.role_in(self.branch_id)

    def role_in(self, branch_id: int) -> Role | None:
        """This staff member's role in a branch (None: not a member; devices: always None)."""
        for member_of, role in self.branch_roles:
            if member_of == branch_id:
                return role
        return None

    @property
    def branch_ids(self) -> list[int]:
        return [branch_id for branch_id, _ in self.branch_roles]

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
        """A staff account with at least `minimum` in the branch this request acts on."""
        if self.staff is None:
            raise PermissionDenied("This action needs a staff account.")
        if self.branch_id is not None:
            return self.require_branch(self.branch_id, minimum)
        if Role(self.staff.role).rank < minimum.rank:
            raise PermissionDenied(f"This action needs the {minimum.value} role or higher.")
        return self.staff

    def require_branch(self, branch_id: int, minimum: Role = Role.staff) -> StaffUser:
        """A staff account with at least `minimum` in `branch_id` (the branch of the counter, ticket, service …
        acted on): every staff action is checked against the branch of what it touches."""
        if self.staff is None:
            raise PermissionDenied("This action needs a staff account.")
        # A principal made in code (CLI commands, scripts: `Principal(staff=user)`) rather than from a token or
        # a session has no branches: it acts with the account's own role wherever it is used.
        role = self.role_in(branch_id) if self.branch_roles else Role(self.staff.role)
        if role is None:
            raise PermissionDenied(
                f"That belongs to branch {branch_id}, where your account has no role. Pick one of your branches "
                "in the workspace, or ask an admin to add you to that branch."
            )
        if role.rank < minimum.rank:
            raise PermissionDenied(f"This action needs the {minimum.value} role or higher in branch {branch_id}.")
        return self.staff

    def require_same_branch(self, branch_id: int, what: str, minimum: Role = Role.staff) -> None:
        """A device may only touch its own branch; staff: `require_branch` (with at least `minimum` there). (404: a
        device is never told what exists elsewhere.)"""
        if self.device is not None:
            if self.device.branch_id != branch_id:
                raise NotFound(f"{what} does not exist in this device's branch.")
            return
        self.require_branch(branch_id, minimum)

    def require_device_or_staff(self, kind: DeviceKind) -> None:
        if self.staff is not None:
            return
        if self.device is not None and self.device.kind == kind:
            return
        raise PermissionDenied(f"This action needs a staff account or a {kind.value} device token.")


def check_branch(actor: Principal | None, branch_id: int, minimum: Role = Role.staff) -> None:
    """For services: a staff actor needs at least `minimum` in `branch_id`, the branch of what it changes.
    No actor (the CLI, the server itself) or a non-staff one (a customer's own cancel) is checked elsewhere."""
    if actor is not None and actor.staff is not None:
        actor.require_branch(branch_id, minimum)


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
    return staff_principal(session, staff)


def staff_principal(session: Session, staff: StaffUser, *, session_key: str | None = None) -> Principal:
    """A staff principal with its branches and the role in each (one query, two for admins)."""
    if Role(staff.role) == Role.admin:  # head office: every branch, as admin
        branch_ids = list(session.scalars(select(Branch.id).order_by(Branch.id)))
        roles = tuple((branch_id, Role.admin) for branch_id in branch_ids)
        return Principal(staff=staff, session_key=session_key, branch_roles=roles)
    rows = session.execute(
        select(StaffBranchRole.branch_id, StaffBranchRole.role)
        .where(StaffBranchRole.staff_id == staff.id)
        .order_by(StaffBranchRole.branch_id)
    ).all()
    roles = tuple((row.branch_id, Role(row.role)) for row in rows)
    if not roles:
        # An account nobody placed in a branch (made by a tool that does not know branches) acts with its own
        # role in the first branch, the site's original one: adding a second branch locks nobody out.
        first = session.scalar(select(Branch.id).order_by(Branch.id).limit(1))
        if first is not None:
            roles = ((first, Role(staff.role)),)
    return Principal(staff=staff, session_key=session_key, branch_roles=roles)


ALL_BRANCHES = "all"


def acting_in(principal: Principal, requested: str | None, *, remembered: str | None = None) -> Principal:
    """The principal acting in one branch: `requested` (X-WINS-Branch header or `?branch=`: refused when the
    caller has no role there), else `remembered` (the workspace's choice: ignored when no longer allowed), else
    the caller's first branch. `all` (head office only) keeps the first branch as the acting one; readers of
    the event stream and reports look at the raw value to widen their view."""
    if principal.device is not None:
        if requested not in (None, "", str(principal.device.branch_id)):
            raise PermissionDenied("A device acts only in its own branch.")
        return replace(principal, branch_id=principal.device.branch_id)
    if principal.staff is None:
        return principal
    chosen: int | None = None
    if requested:
        if requested == ALL_BRANCHES:
            if not principal.head_office:
                raise PermissionDenied("Only head-office admins can look at all branches at once.")
        else:
            chosen = _branch_number(requested)
            if principal.role_in(chosen) is None:
                if principal.head_office:
                    raise NotFound(f"Branch {chosen} does not exist.")
                raise PermissionDenied(
                    f"Your account has no role in branch {chosen}. Ask an admin to add you to that branch."
                )
    if chosen is None and remembered and remembered.isdigit() and principal.role_in(int(remembered)) is not None:
        chosen = int(remembered)
    if chosen is None:
        if not principal.branch_roles:
            if principal.head_office:
                return principal  # no branch exists yet: the routes say how to make one
            raise PermissionDenied("Your account belongs to no branch yet. Ask an admin to add you to one.")
        chosen = principal.branch_roles[0][0]
    return replace(principal, branch_id=chosen)


def _branch_number(value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise NotFound(f"Branch {value!r} does not exist: give a branch id (a number), or 'all'.")
    return int(value)


def principal_still_valid(session: Session, principal: Principal) -> bool:
    """Whether `principal` would still be let in, read afresh from its row: the staff account still exists, is
    active, its sign-ins were not revoked since (a password change or deactivation bumps `token_version`) and it
    still has a role in the branch it acts in;
    the device still exists, is not revoked and holds the same token (a new token voids the old one).
    Long-lived connections (the event stream) ask this again and again; it never raises."""
    if principal.staff is not None:
        row = session.get(StaffUser, principal.staff.id, populate_existing=True)
        if row is None or not row.active or row.token_version != principal.staff.token_version:
            return False
        # Still a member of the branch it follows (an admin may have taken the branch away meanwhile).
        return principal.branch_id is None or staff_principal(session, row).role_in(principal.branch_id) is not None
    if principal.device is not None:
        return principals_still_valid(session, [principal])[0]
    return False


def principals_still_valid(session: Session, principals: list[Principal]) -> list[bool]:
    """`principal_still_valid` for many at once, in that order: the devices in one query (a chain's display
    boards are thousands of devices, each re-checked every few seconds by its open streams)."""
    device_ids = {p.device.id for p in principals if p.device is not None}
    rows = {}
    if device_ids:
        query = select(Device.id, Device.revoked_at, Device.token_hash).where(Device.id.in_(device_ids))
        rows = {row.id: row for row in session.execute(query)}
    answers: list[bool] = []
    for principal in principals:
        if principal.device is not None:
            found = rows.get(principal.device.id)
            answers.append(
                found is not None and found.revoked_at is None and found.token_hash == principal.device.token_hash
            )
        else:
            answers.append(principal_still_valid(session, principal))
    return answers


def touch_device(device: Device) -> None:
    device.last_seen_at = clock.utcnow()


def client_address(conn: HTTPConnection) -> str:
    """The address sign-ins are throttled by: the peer, or the client a trusted proxy names (which
    wins.access_log.AccessLogMiddleware puts in the ASGI scope, see WINS_TRUSTED_PROXIES)."""
    return conn.client.host if conn.client is not None else "unknown"
