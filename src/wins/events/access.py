"""Who may follow the event stream, for how long, and how many at once (docs/security.md, "Event stream").

- Opening: the Authorization header (kiosk, tests, bench, any non-browser client), or a one-time connect ticket
  in `?ticket=` that a browser fetched over an authenticated request just before connecting. A token in
  `?token=` is refused: URLs end up in access logs.
- Staying: an open stream re-reads its user or device every `WINS_STREAM_RECHECK_SECONDS`, and at once when an
  internal `auth.ended` event (revoke, new token, deactivation, password change, sign-out) names it; if the
  sign-in no longer holds, the socket is closed with CLOSE_SIGNED_OUT and a pending long-poll answers 401.
- Limits: per process, at most `WINS_WS_MAX_PER_PRINCIPAL` sockets per user or device and `WINS_WS_MAX_TOTAL` in
  all; pending long-polls are counted apart against the same two limits.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from wins.auth import ALL_BRANCHES, Principal, principal_still_valid, principals_still_valid, staff_principal
from wins.config import Settings
from wins.db import Database
from wins.devices.models import Device
from wins.errors import NotAuthenticated
from wins.onetime import CodePurpose, consume_code, issue_code
from wins.staff.models import StaffUser

# WebSocket close codes (4000-4999 are the application's own; 1013 is the standard "try again later").
CLOSE_TOKEN_IN_URL = 4400  # a long-lived token in the URL: a client bug, do not retry as is
CLOSE_SIGNED_OUT = 4401  # no valid sign-in: signed out, revoked, password changed, or the ticket was used/expired
CLOSE_FORBIDDEN = 4403  # signed in, but not allowed to follow the stream
CLOSE_TOO_MANY = 4429  # this user or device already holds WINS_WS_MAX_PER_PRINCIPAL sockets
CLOSE_BUSY = 1013  # this server process already holds WINS_WS_MAX_TOTAL sockets: retry later


class StreamRefused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class StreamLimits:
    """Open streams of one process, per principal and in total."""

    per_principal: int
    total: int
    what: str
    counts: dict[str, int] = field(default_factory=dict)
    open: int = 0

    def acquire(self, key: str) -> None:
        if self.open >= self.total:
            raise StreamRefused(CLOSE_BUSY, f"The server has too many open {self.what}; try again in a minute.")
        held = self.counts.get(key, 0)
        if held >= self.per_principal:
            raise StreamRefused(
                CLOSE_TOO_MANY, f"This sign-in already has {held} open {self.what} (the limit); close one first."
            )
        self.counts[key] = held + 1
        self.open += 1

    def release(self, key: str) -> None:
        held = self.counts.get(key, 0) - 1
        if held > 0:
            self.counts[key] = held
        else:
            self.counts.pop(key, None)
        self.open -= 1


class StreamAccess:
    """One per app (so per process): the limits and a short cache of "is this sign-in still valid".

    A thousand sockets of one display token cost one check per re-check period, not a thousand. And a thousand
    display boards of a chain (a device each) do not cost a thousand: when one sign-in's answer runs out, every
    sign-in whose answer would run out within a quarter period is checked with it, in one thread hop and one
    query for all the devices (`principals_still_valid`), and one such check runs at a time, so sockets that
    ask meanwhile wait for it instead of starting their own. Each sign-in is then re-read about every half
    period, as before, but a process does a few database rounds per period, not one per sign-in."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.recheck_seconds = settings.stream_recheck_seconds
        self.sockets = StreamLimits(settings.ws_max_per_principal, settings.ws_max_total, "event sockets")
        self.polls = StreamLimits(settings.ws_max_per_principal, settings.ws_max_total, "event long-polls")
        self._checked: dict[tuple[Any, ...], tuple[float, bool]] = {}
        # The sign-ins asked about lately: identity -> (the principal, when it was last asked about).
        self._asked: dict[tuple[Any, ...], tuple[Principal, float]] = {}
        self._checking: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self.database_checks = 0  # rounds to the database (tests)

    @staticmethod
    def _identity(principal: Principal) -> tuple[Any, ...]:
        if principal.staff is not None:
            return ("staff", principal.staff.id, principal.staff.token_version, principal.branch_id)
        if principal.device is not None:
            return ("device", principal.device.id, principal.device.token_hash)
        return ("anonymous",)

    async def still_valid(self, principal: Principal, *, fresh: bool = False) -> bool:
        """Whether the sign-in still holds; `fresh` skips the cache (after an `auth.ended` event naming it)."""
        identity = self._identity(principal)
        now = time.monotonic()
        self._asked[identity] = (principal, now)
        hit = self._checked.get(identity)
        if not fresh and hit is not None and hit[0] > now:
            return hit[1]
        loop = asyncio.get_running_loop()
        if self._checking is None or self._checking[0] is not loop:  # a lock serves one event loop
            self._checking = (loop, asyncio.Lock())
        async with self._checking[1]:
            started = time.monotonic()
            hit = self._checked.get(identity)
            if not fresh and hit is not None and hit[0] > started:
                return hit[1]  # checked by the round this call waited for
            due = {identity: principal}
            if not fresh:
                due.update(self._due(started))
            answers = await run_in_threadpool(self._check_all, list(due.values()))
            self.database_checks += 1
            # Half the period from when the check began: a stream checking every period never reads an answer
            # older than that.
            until = started + self.recheck_seconds / 2
            for key, valid in zip(due, answers, strict=True):
                self._checked[key] = (until, valid)
            return answers[0]

    def _due(self, now: float) -> dict[tuple[Any, ...], Principal]:
        """The sign-ins asked about lately whose answers run out within a quarter period; forgets those no
        stream has asked about for two periods (their sockets closed)."""
        horizon = now + self.recheck_seconds / 4
        stale = now - 2 * self.recheck_seconds
        due: dict[tuple[Any, ...], Principal] = {}
        for key, (principal, asked) in list(self._asked.items()):
            if asked < stale:
                del self._asked[key]
                self._checked.pop(key, None)
            elif (hit := self._checked.get(key)) is None or hit[0] <= horizon:
                due[key] = principal
        return due

    def forget(self, event: Any) -> None:  # noqa: ARG002  (any sign-in that ended: rare, so forget them all)
        """Hub listener for internal events: a sign-in ended somewhere, so no cached answer may be trusted."""
        self._checked.clear()

    def _check_all(self, principals: list[Principal]) -> list[bool]:
        with self.db.session(write=False) as session:
            return principals_still_valid(session, principals)


@dataclass(frozen=True)
class StreamScope:
    """Which events a subscriber gets: its branch's (`branch_id`), or every branch's (None: head office with
    `?branch=all`). Events of no branch go to everyone; internal events to nobody."""

    branch_id: int | None

    def shows(self, event: Any) -> bool:
        if event.internal:
            return False
        return self.branch_id is None or event.branch_id is None or event.branch_id == self.branch_id


def stream_scope(principal: Principal, requested: str | None) -> StreamScope:
    """A device follows its own branch; staff the branch they act in (`?branch=`, X-WINS-Branch, the workspace's
    choice, else their first); a head-office admin asking `?branch=all` follows every branch (wins.auth.acting_in
    has refused `all` to anyone else already)."""
    if requested == ALL_BRANCHES and principal.head_office:
        return StreamScope(None)
    return StreamScope(principal.branch_id)


def names(principal: Principal, data: dict[str, Any]) -> bool:
    """Whether an `auth.ended` event is about this principal (its account or device, or its web session)."""
    if principal.staff is not None and data.get("staff_id") == principal.staff.id:
        session = data.get("session")
        return session is None or session == principal.session_key
    return principal.device is not None and data.get("device_id") == principal.device.id


def ends(principal: Principal, data: dict[str, Any]) -> bool:
    """Whether such an event ends this sign-in by itself: a sign-out of its web session has no row to re-read."""
    return principal.session_key is not None and data.get("session") == principal.session_key


def issue_stream_ticket(session: Session, principal: Principal, *, seconds: int) -> str:
    """A one-time connect ticket for the event WebSocket, standing for `principal`."""
    # Read afresh, not from the principal cache: a screen told its stream closed (4401) asks for a ticket at
    # once, and must hear 401 right after a revoke, not seconds later.
    if not principal_still_valid(session, principal):
        raise NotAuthenticated("Your sign-in has ended (signed out or revoked).")
    return issue_code(
        session,
        purpose=CodePurpose.stream,
        seconds=seconds,
        staff_id=principal.staff.id if principal.staff else None,
        staff_version=principal.staff.token_version if principal.staff else None,
        device_id=principal.device.id if principal.device else None,
        session_key=principal.session_key,
    )


def redeem_stream_ticket(session: Session, ticket: str) -> Principal:
    """The principal a connect ticket stands for, using the ticket up; NotAuthenticated if it is unknown, used,
    expired, or its sign-in ended since it was issued."""
    grant = consume_code(session, ticket, purpose=CodePurpose.stream)
    if grant is None:
        raise NotAuthenticated("This connect ticket is unknown, used or expired: fetch a new one.")
    if grant.staff_id is not None:
        user = session.get(StaffUser, grant.staff_id)
        if user is None or not user.active or user.token_version != grant.staff_version:
            raise NotAuthenticated("Your sign-in has ended. Sign in again.")
        return staff_principal(session, user, session_key=grant.session_key)
    device = session.get(Device, grant.device_id) if grant.device_id is not None else None
    if device is None or device.revoked_at is not None:
        raise NotAuthenticated("This device was revoked. Ask an admin to pair it again.")
    return Principal(device=device)
