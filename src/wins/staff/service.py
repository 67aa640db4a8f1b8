from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wins import clock, db_flags
from wins.audit.service import record_change
from wins.db import Database
from wins.errors import Conflict, NotAuthenticated, NotFound, TooManyAttempts, ValidationFailed
from wins.events.service import record_sign_in_ended
from wins.logging_setup import sign_in_failed
from wins.schemas import StaffPublic, fields_of
from wins.staff import membership, throttle
from wins.staff.models import Role, StaffUser
from wins.staff.security import STAFF_TOKEN_PURPOSE, hash_password, sign, verify_password
from wins.staff.throttle import Limits

if TYPE_CHECKING:
    from wins.auth import Principal

logger = logging.getLogger(__name__)
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD = 8


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"A password needs at least {MIN_PASSWORD} characters.")


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    full_name: str = "",
    branch_ids: list[int] | None = None,
    actor: Principal | None,
) -> StaffUser:
    """Create a staff account with `role` in `branch_ids` (by default: the branch the creating admin acts in,
    or every branch when nobody is signed in: the CLI, a single-branch site)."""
    username = username.strip()
    if not _USERNAME.match(username):
        raise ValidationFailed("A username is 2–64 letters, digits or . _ - @ (no spaces).")
    _check_password(password)
    if session.scalar(select(StaffUser).where(StaffUser.username == username)) is not None:
        raise Conflict(f"The username {username!r} is taken.")
    user = StaffUser(
        username=username, full_name=full_name.strip(), password_hash=hash_password(password), role=Role(role)
    )
    session.add(user)
    session.flush()
    if branch_ids is None:
        acting = actor.branch_id if actor is not None else None
        branch_ids = None if acting is None else [acting]
    else:
        branch_ids = sorted(set(branch_ids))
        membership.check_branches(session, branch_ids)
    membership.grant(session, user, branch_ids=branch_ids, role=Role(role))
    logger.info("staff user %s created with role %s", username, role)
    record_change(session, actor, "user.create", {"username": user.username})
    return user


def get_user(session: Session, user_id: int) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(f"Staff user {user_id} does not exist.")
    return user


def list_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


def update_user(session: Session, user_id: int, *, changes: dict[str, Any], actor: Principal | None) -> StaffUser:
    fields = sorted(changes)  # before any key is taken out
    user = get_user(session, user_id)
    version_before = user.token_version
    if "password" in changes:
        password = changes.pop("password")
        _check_password(password)
        user.password_hash = hash_password(password)
        user.token_version += 1
        db_flags.note_credentials_changed(session)
        throttle.unlock_account(session, user.username)
    if "active" in changes and not changes["active"] and user.active:
        user.token_version += 1
        db_flags.note_credentials_changed(session)
    if user.token_version != version_before:
        record_sign_in_ended(session, staff_id=user.id)  # its open event streams close at once
    if "role" in changes:
        changes["role"] = Role(changes["role"])
    losing_admin = (
        user.role == Role.admin
        and user.active
        and (("role" in changes and changes["role"] != Role.admin) or ("active" in changes and not changes["active"]))
    )
    if losing_admin:
        others = session.scalar(
            select(func.count())
            .select_from(StaffUser)
            .where(StaffUser.role == Role.admin, StaffUser.active.is_(True), StaffUser.id != user.id)
        )
        if not others:
            raise Conflict(
                f"{user.username} is the only active admin; make someone else an admin first, "
                "or nobody could manage accounts any more."
            )
    if "role" in changes and changes["role"] != user.role:
        membership.follow_role_change(session, user, changes["role"])
        db_flags.note_credentials_changed(session)  # cached sign-ins pick up the new role at once
    for key, value in changes.items():
        setattr(user, key, value)
    session.flush()
    record_change(session, actor, "user.update", {"user_id": user.id, "fields": fields})
    return user


@dataclass(frozen=True)
class _Account:
    id: int
    password_hash: str
    active: bool


def sign_in(db: Database, *, username: str, password: str, client: str, limits: Limits) -> StaffUser:
    """Check a username and password for the sign-in routes (API token and web form), throttled per client
    address and per client address and username (wins.staff.throttle).

    Unknown user, wrong password and deactivated account all answer NotAuthenticated with one message, after
    an argon2 verification each (a dummy hash for an unknown user), so neither the answer nor its time tells
    which usernames exist. Runs its own short transactions: the attempt is counted (and committed) before the
    slow password check, which holds no database lock."""
    keys = throttle.keys_for(client=client, username=username)
    with db.session() as session:
        wait = throttle.take_attempt(session, keys, limits, clock.utcnow())
        found = None
        if not wait:
            row = session.execute(
                select(StaffUser.id, StaffUser.password_hash, StaffUser.active).where(
                    StaffUser.username == username.strip()
                )
            ).one_or_none()
            found = _Account(*row) if row is not None else None
    if wait:
        logger.warning("sign-in refused from %s: too many failed attempts", client)
        sign_in_failed(username.strip() if found else None)  # fail2ban counts these too (deploy/fail2ban/)
        raise TooManyAttempts(f"Too many failed sign-ins. Try again in {wait} seconds or ask an admin.")
    ok = verify_password(found.password_hash if found else None, password)
    if found is None or not ok or not found.active:
        # What was typed is logged only when it names an account: it may be a password typed in the wrong box.
        sign_in_failed(username.strip() if found else None)  # with the client's address, for fail2ban
        raise NotAuthenticated("Wrong username or password.")
    with db.session() as session:
        throttle.attempt_succeeded(session, keys)
        user = get_user(session, found.id)
    return user


def set_preferences(session: Session, user_id: int, *, shortcuts_enabled: bool, actor: Principal) -> StaffUser:
    """A staff member's own workspace settings (single-letter shortcuts on or off), kept for every device."""
    user = get_user(session, user_id)
    user.shortcuts_enabled = shortcuts_enabled
    session.flush()
    record_change(session, actor, "staff.preferences", {"staff_id": user.id, "shortcuts_enabled": shortcuts_enabled})
    return user


def sign_out(session: Session, user_id: int, *, actor: Principal | None) -> StaffUser:
    """End every sign-in of this account: its web sessions and API tokens all carry `token_version`."""
    user = get_user(session, user_id)
    user.token_version += 1
    db_flags.note_credentials_changed(session)
    record_sign_in_ended(session, staff_id=user.id)  # its open event streams close at once
    session.flush()
    logger.info("%s signed out", user.username)
    record_change(session, actor, "user.logout", {})
    return user


def issue_token(user: StaffUser, *, secret_key: str) -> str:
    return sign(secret_key, STAFF_TOKEN_PURPOSE, {"sid": user.id, "v": user.token_version})


def user_public(user: StaffUser) -> dict[str, Any]:
    return fields_of(StaffPublic, user)
