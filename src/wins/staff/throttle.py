"""Sign-in throttling, per client address and per client address and account, kept in the database.

Why this shape (issue 11): a lock on the *account* alone let anyone keep `admin` locked out forever by typing
wrong passwords, and its 429 told them which usernames exist. So:

- a client address that fails `login_client_max_failures` times within `login_client_window_seconds` is refused
  for `login_client_lock_seconds`, whatever username it tries (this does the heavy lifting against guessing);
- an address that fails `login_max_failures` times for one username is refused *for that username only*, for
  `login_lock_seconds`. Everyone else, on other addresses, still signs in as that user: an attacker locks out
  only themselves;
- the username is counted as typed, whether or not the account exists, so an unknown user and a wrong password
  get the same answers in the same order (401, then 429).

Each attempt is counted *before* its password is checked, in a short write transaction that serialises
concurrent attempts (SQLite: one writer; PostgreSQL: row lock), so a burst of parallel guesses cannot slip past
the limit; a successful sign-in then gives its attempt back. The counters live in the database so every worker
and every host agrees.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from wins.config import Settings
from wins.staff.models import LoginThrottle


@dataclass(frozen=True)
class Limits:
    account_failures: int
    account_lock_seconds: int
    client_failures: int
    client_window_seconds: int
    client_lock_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            account_failures=settings.login_max_failures,
            account_lock_seconds=settings.login_lock_seconds,
            client_failures=settings.login_client_max_failures,
            client_window_seconds=settings.login_client_window_seconds,
            client_lock_seconds=settings.login_client_lock_seconds,
        )


@dataclass(frozen=True)
class Keys:
    client: str
    account: str  # this client and this username
    username: str  # this username, from any client


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _username(username: str) -> str:
    return _digest(f"user\0{username.strip().casefold()}")


def keys_for(*, client: str, username: str) -> Keys:
    return Keys(
        client=_digest(f"client\0{client}"),
        account=_digest(f"account\0{client}\0{username.strip().casefold()}"),
        username=_username(username),
    )


def unlock_account(session: Session, username: str) -> None:
    """Forget every client's failures for this username (a password reset by an admin)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.account == _username(username)))


def _row(session: Session, key: str, now: datetime, *, account: str | None = None) -> LoginThrottle:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Insert-or-keep, then lock: two workers counting the first failure of a key at once must not collide.
    session.execute(
        insert(LoginThrottle)
        .values(key=key, account=account, failures=0, window_start=now, locked_until=None, expires_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    locked = select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
    row = session.scalar(locked.execution_options(populate_existing=True))
    assert row is not None
    return row


def take_attempt(session: Session, keys: Keys, limits: Limits, now: datetime) -> int:
    """Count one sign-in attempt from this client for this username. Returns 0 when it may go ahead, else the
    seconds until the client may try again (the attempt is then not counted)."""
    # Tidy up rows that no longer matter, a batch at a time; rows another attempt holds are left for later
    # (SKIP LOCKED on PostgreSQL: deleting one locked there could deadlock with that attempt).
    stale = select(LoginThrottle.key).where(LoginThrottle.expires_at < now).limit(500)
    stale = stale.with_for_update(skip_locked=True)
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(stale.scalar_subquery())))
    window = timedelta(seconds=limits.client_window_seconds)
    rows = (
        (_row(session, keys.client, now), limits.client_failures, limits.client_lock_seconds),
        (_row(session, keys.account, now, account=keys.username), limits.account_failures, limits.account_lock_seconds),
    )
    wait = 0
    for row, maximum, lock_seconds in rows:
        if row.locked_until is not None and row.locked_until > now:
            wait = max(wait, int((row.locked_until - now).total_seconds()) + 1)
            continue
        if row.locked_until is not None or now - row.window_start > window:
            row.failures, row.window_start, row.locked_until = 0, now, None
        if row.failures >= maximum:
            row.failures, row.locked_until = 0, now + timedelta(seconds=lock_seconds)
            wait = max(wait, lock_seconds)
    if wait == 0:
        for row, _, _ in rows:
            row.failures += 1
    for row, _, _ in rows:
        row.expires_at = max(row.window_start + window, row.locked_until or now)
    session.flush()
    return wait


def attempt_succeeded(session: Session, keys: Keys) -> None:
    """A correct password: forget this client's failures for the account, and give back the attempt taken
    from the client's allowance (only failures count against it)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys.account))
    row = session.get(LoginThrottle, keys.client, with_for_update=True)
    if row is not None and row.failures > 0:
        row.failures -= 1
    session.flush()
