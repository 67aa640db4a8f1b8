from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wins import clock
from wins.errors import Conflict, NotAuthenticated, NotFound, TooManyAttempts, ValidationFailed
from wins.staff.models import Role, StaffUser
from wins.staff.security import STAFF_TOKEN_PURPOSE, hash_password, sign, verify_password

logger = logging.getLogger(__name__)
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD = 8


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"A password needs at least {MIN_PASSWORD} characters.")


def create_user(session: Session, *, username: str, password: str, role: Role, full_name: str = "") -> StaffUser:
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
    logger.info("staff user %s created with role %s", username, role)
    return user


def get_user(session: Session, user_id: int) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(f"Staff user {user_id} does not exist.")
    return user


def list_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


def update_user(session: Session, user_id: int, *, changes: dict[str, Any]) -> StaffUser:
    user = get_user(session, user_id)
    if "password" in changes:
        password = changes.pop("password")
        _check_password(password)
        user.password_hash = hash_password(password)
        user.token_version += 1
        user.failed_logins = 0
        user.locked_until = None
    if "active" in changes and not changes["active"] and user.active:
        user.token_version += 1
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
    for key, value in changes.items():
        setattr(user, key, value)
    session.flush()
    return user


def authenticate(session: Session, *, username: str, password: str, max_failures: int, lock_seconds: int) -> StaffUser:
    """Check a password. Repeated failures lock the account for a while (the failures are counted even
    though the caller's transaction commits: callers must commit on NotAuthenticated too)."""
    user = session.scalar(select(StaffUser).where(StaffUser.username == username.strip()))
    now = clock.utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds()) + 1
        raise TooManyAttempts(f"Too many failed sign-ins. Try again in {wait} seconds or ask an admin.")
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= max_failures:
                user.locked_until = now + timedelta(seconds=lock_seconds)
                user.failed_logins = 0
                logger.warning("account %s locked after %d failed sign-ins", user.username, max_failures)
        logger.info("failed sign-in for %r", username)
        raise NotAuthenticated("Wrong username or password.")
    user.failed_logins = 0
    user.locked_until = None
    return user


def issue_token(user: StaffUser, *, secret_key: str) -> str:
    return sign(secret_key, STAFF_TOKEN_PURPOSE, {"sid": user.id, "v": user.token_version})


def user_public(user: StaffUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role,
        "active": user.active,
        "last_counter_id": user.last_counter_id,
    }
