"""Remote join: a customer takes a ticket from their phone (the public /join page), through the same issuing
service as the kiosk (wins.tickets.issuing.issue), so every rule of issuing (service hours, cut-offs) applies.

Abuse control: an optional rotating join key (shown as a QR code on the display board and on the printable
poster), a per-client rate limit, and a per-service daily cap of remote tickets."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from wins import clock
from wins.branches.models import Branch
from wins.branches.service import branch_settings, get_branch, list_branches
from wins.config import Settings
from wins.errors import Conflict, NotFound, PermissionDenied, TooManyAttempts
from wins.events.service import record_event
from wins.join.models import DEFAULT_CHECKIN_GRACE_MINUTES, DEFAULT_NOTIFY_AHEAD, JoinRate, ServiceRemote
from wins.schemas import ServiceRemotePublic, fields_of
from wins.services.models import Service
from wins.services.service import service_public
from wins.tickets import estimate as est
from wins.tickets.caches import service_info, service_load
from wins.tickets.issuing import issue
from wins.tickets.models import Ticket, TicketStatus
from wins.tickets.views import ticket_event_data

if TYPE_CHECKING:
    from wins.auth import Principal

REMOTE = "remote"


class JoinKeyRefused(PermissionDenied):
    code = "join_key_refused"  # the join page shows it in the customer's language (wins.display.i18n)


class JoinLimitReached(TooManyAttempts):
    code = "join_limit_reached"


# -- the rotating join key ------------------------------------------------------------------------------------


def _period(now: datetime, minutes: int) -> int:
    return int(now.timestamp()) // (minutes * 60)


def join_key(secret: str, branch_id: int, *, minutes: int, now: datetime | None = None, back: int = 0) -> str:
    """The key of the current period (or `back` periods ago): derived, never stored, the same on every worker."""
    period = _period(now or clock.utcnow(), minutes) - back
    digest = hmac.new(secret.encode(), f"join:{branch_id}:{period}".encode(), hashlib.sha256).hexdigest()
    return digest[:10]


def key_expires_at(minutes: int, now: datetime | None = None) -> datetime:
    now = now or clock.utcnow()
    start = _period(now, minutes) * minutes * 60
    return datetime.fromtimestamp(start, tz=now.tzinfo) + timedelta(minutes=minutes)


def normalise_key(given: str | None) -> str:
    """A key or short code as typed from the board (any case, with spaces or dashes) or as carried by the QR
    code's link. ASCII letters and digits only (compare_digest refuses anything else)."""
    return "".join(ch for ch in (given or "").lower() if ch.isascii() and ch.isalnum())[:32]


def short_code(secret: str, branch_id: int, *, minutes: int, now: datetime | None = None, back: int = 0) -> str:
    """The key's short code (6 digits), for typing on a phone's number pad: the board shows it beside the QR code
    (`display_code`) and the poster prints it. Derived from the key, so it changes with it. One code serves both
    the join page (when a key is required) and arrival check-in ("I'm here")."""
    key = join_key(secret, branch_id, minutes=minutes, now=now, back=back)
    return f"{int(key, 16) % 1_000_000:06d}"


def display_code(code: str) -> str:
    """The short code as the board shows it in large type: two groups of three digits."""
    return f"{code[:3]} {code[3:]}"


def key_matches(given: str | None, *, secret: str, branch_id: int, minutes: int) -> bool:
    """Whether `given` is the branch's key or short code, now or in the period before (a code read just before
    it changed still works)."""
    typed = normalise_key(given)
    if not typed:
        return False
    for back in (0, 1):
        key = join_key(secret, branch_id, minutes=minutes, back=back)
        code = short_code(secret, branch_id, minutes=minutes, back=back)
        if hmac.compare_digest(typed, key) or hmac.compare_digest(typed, code):
            return True
    return False


def check_key(given: str | None, *, secret: str, branch_id: int, minutes: int) -> None:
    """The join page's key check (join_key_required)."""
    if not key_matches(given, secret=secret, branch_id=branch_id, minutes=minutes):
        raise JoinKeyRefused(
            "This join link has expired or is incomplete. Scan the QR code on the screen in the waiting room again, "
            "or type the code shown under it."
        )


def check_arrival(given: str, *, secret: str, branch_id: int, minutes: int) -> None:
    """Proof of being on site for arrival check-in: the same key or short code as the join page's."""
    if not key_matches(given, secret=secret, branch_id=branch_id, minutes=minutes):
        raise PermissionDenied(
            "That code is not the current one. Type the 6-digit code shown now on the screen in the waiting room "
            "(it changes from time to time), or scan its QR code with this phone."
        )


# -- wrong codes per ticket (per server process: a few guesses, then wait) ------------------------------------


class RateLimit:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}

    def check(self, client: str, *, limit: int, message: str, window: float = 3600.0) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._hits) > 10_000:  # forget idle clients
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - window}
            hits = self._hits.setdefault(client, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                raise TooManyAttempts(message)
            hits.append(now)

    def blocked(self, client: str, *, limit: int, window: float = 3600.0) -> bool:
        """Whether `client` has used up its `limit` (nothing counted)."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.get(client)
            return hits is not None and sum(1 for t in hits if t > now - window) >= limit


CHECKIN_ATTEMPTS = RateLimit()  # wrong arrival codes per ticket: guessing the 6 digits is not an option
CHECKIN_WRONG_PER_HOUR = 10


# -- per-client rate limit (in the database: every worker and host counts together) -----------------------


def rate_key(secret: str, *, branch_id: int, client: str, hour: int) -> str:
    """The stored stand-in for a client in one branch and one hour: a keyed hash, never the address."""
    return hmac.new(secret.encode(), f"join-rate\0{branch_id}\0{hour}\0{client}".encode(), hashlib.sha256).hexdigest()


def take_join(session: Session, *, branch_id: int, client: str, limit: int, secret: str,
              now: datetime | None = None) -> None:  # fmt: skip
    """Count one remote join by `client` in this branch and clock hour; TooManyAttempts past `limit`. One
    upsert (row lock on PostgreSQL, the single writer on SQLite), so parallel joins cannot slip past it."""
    hour = int((now or clock.utcnow()).timestamp()) // 3600
    # Past hours' rows go now, a batch at a time; rows another join holds are left for later (SKIP LOCKED on
    # PostgreSQL: deleting one locked there could deadlock with that join).
    stale = select(JoinRate.key).where(JoinRate.hour < hour).limit(500).with_for_update(skip_locked=True)
    session.execute(delete(JoinRate).where(JoinRate.key.in_(stale.scalar_subquery())))
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    key = rate_key(secret, branch_id=branch_id, client=client, hour=hour)
    upsert = insert(JoinRate).values(key=key, hour=hour, joins=1)
    joins = session.scalar(
        upsert.on_conflict_do_update(index_elements=["key"], set_={"joins": JoinRate.joins + 1}).returning(
            JoinRate.joins
        )
    )
    if int(joins or 0) > limit:
        raise JoinLimitReached(
            "You have taken several tickets from this device in the last hour. Please wait, or ask at the desk."
        )


# -- what the page lists and does --------------------------------------------------------------------------


def remote_settings(session: Session, service_id: int, *, must_exist: bool = False) -> ServiceRemote:
    """A service's remote settings (the defaults when it has none stored)."""
    if must_exist and session.get(Service, service_id) is None:
        raise NotFound(f"No service {service_id}; list them with GET /api/v1/services.")
    stored = session.get(ServiceRemote, service_id)
    return stored or ServiceRemote(
        service_id=service_id,
        notify_ahead=DEFAULT_NOTIFY_AHEAD,
        remote_daily_cap=None,
        arrival_checkin=False,
        checkin_grace_minutes=DEFAULT_CHECKIN_GRACE_MINUTES,
    )


def checkin_in_use(session: Session, branch_id: int) -> bool:
    """Whether a service of the branch asks remote customers to check in on arrival."""
    query = (
        select(ServiceRemote.service_id)
        .join(Service, Service.id == ServiceRemote.service_id)
        .where(Service.branch_id == branch_id, ServiceRemote.arrival_checkin.is_(True))
        .limit(1)
    )
    return session.scalar(query) is not None


def remote_today(session: Session, service_id: int, day: Any) -> int:
    query = select(func.count()).where(
        Ticket.issued_service_id == service_id, Ticket.business_day == day, Ticket.channel == REMOTE
    )
    return int(session.scalar(query) or 0)


def join_branches(session: Session) -> list[Branch]:
    """The branches offering remote join (the customer picks one on /join when there are several)."""
    return [branch for branch in list_branches(session) if branch_settings(branch).remote_join]


def several_branches(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(Branch)) != 1


def branch_of_service(session: Session, service_id: int) -> Branch:
    """The branch a service belongs to: its join page, key, rate limit and cap are that branch's."""
    service = session.get(Service, service_id)
    if service is None or service.archived_at is not None:
        raise NotFound("There is no such service to join. Scan the QR code in the waiting room again.")
    return get_branch(session, service.branch_id)


def current_key(settings: Settings, branch_id: int) -> str:
    """The branch's join key now: the QR code's link carries it, the board shows it as a code (`display_code`);
    arrival check-in may take it as proof of presence too (check it with `check_key`)."""
    return join_key(settings.effective_secret_key, branch_id, minutes=settings.join_key_minutes)


def join_link(session: Session, *, branch: Branch, settings: Settings, base_url: str) -> dict[str, Any]:
    """The link of `branch`'s join page for its display board and poster: with the current key and its short
    `code` (6 digits, for typing by hand) when the branch requires a key or a service asks for arrival check-in
    (the code is the proof of being on site), and when that key expires (ask again then). A single-branch site
    keeps the short `/join`; with several branches each has `/join/b/{id}`."""
    options = branch_settings(branch)
    url = base_url.rstrip("/") + (f"/join/b/{branch.id}" if several_branches(session) else "/join")
    expires = code = None
    checkin = checkin_in_use(session, branch.id)
    if options.join_key_required or checkin:
        minutes = settings.join_key_minutes
        url += "?k=" + current_key(settings, branch.id)
        code = display_code(short_code(settings.effective_secret_key, branch.id, minutes=minutes))
        expires = key_expires_at(minutes).isoformat()
    return {"offered": options.remote_join, "url": url, "key_required": options.join_key_required,
            "checkin": checkin, "code": code, "expires_at": expires, "branch_id": branch.id,
            "branch": branch.name}  # fmt: skip


def open_services(
    session: Session, *, branch: Branch, settings: Settings, only: int | None = None
) -> list[dict[str, Any]]:
    """`branch`'s services taking remote tickets now (issuing, not archived, within their opening hours: the same
    `open_now` as the kiosks'), each with how many wait and the wait range (seconds)."""
    query = (
        select(Service)
        .where(Service.branch_id == branch.id, Service.active.is_(True), Service.archived_at.is_(None))
        .order_by(Service.sort_order, Service.id)
    )
    if only is not None:
        query = query.where(Service.id == only)
    listed = []
    for service in session.scalars(query):
        if (
            remote_settings(session, service.id).remote_daily_cap == 0
            or not service_public(service, branch)["open_now"]
        ):
            continue
        waiting = session.scalar(
            select(func.count()).where(Ticket.service_id == service.id, Ticket.status == TicketStatus.waiting)
        )
        estimate = est.estimate_for(int(waiting or 0), service_load(session, service.id, settings=settings))
        listed.append(
            {"id": service.id, "name": service.name, "waiting": int(waiting or 0), "low": estimate.low,
             "high": estimate.high}
        )  # fmt: skip
    return listed


def join(
    session: Session, *, service_id: int, key: str | None, client: str, settings: Settings, language: str | None
) -> Ticket:
    """Issue a remote ticket for `service_id`, through the kiosk's issuing service, under the rules of the
    service's branch (remote join on, its key, the per-client limit in that branch, the service's cap)."""
    branch = branch_of_service(session, service_id)
    options = branch_settings(branch)
    if not options.remote_join:
        raise NotFound("Joining the queue from a phone is not offered here. Please take a ticket at the kiosk.")
    if options.join_key_required:
        check_key(key, secret=settings.effective_secret_key, branch_id=branch.id, minutes=settings.join_key_minutes)
    info = service_info(session, service_id)
    remote = remote_settings(session, service_id)
    cap = remote.remote_daily_cap
    day = clock.business_day(clock.utcnow(), timezone=info.timezone, rollover_hour=info.rollover_hour)
    if cap is not None and remote_today(session, service_id, day) >= cap:
        raise Conflict(
            f"{info.name} has given all its tickets for joining from a phone today. Please take one at the kiosk."
        )
    take_join(session, branch_id=branch.id, client=client, limit=settings.join_per_client_per_hour,
              secret=settings.effective_secret_key)  # fmt: skip
    from wins.auth import Principal

    issued = issue(session, service_id=service_id, actor=Principal(), language=language, channel=REMOTE)
    ticket = session.get(Ticket, issued.ticket_id)
    assert ticket is not None
    if remote.arrival_checkin:
        # Set here, not in issuing's hot path: only a remote ticket is ever off site when issued.
        ticket.checkin_required = True
        session.flush()
    return ticket


# A waiting ticket that no longer waits for check-in because its service stopped asking for it. Its data is the
# ticket's payload, like every ticket event: the ticket's tracking page (wins.events.api, "ticket updates") and the
# staff queue redraw, so neither still says "check in when you arrive" until it is reloaded.
CHECKIN_WAIVED = "ticket.checkin_waived"


def _stop_waiting_for_checkin(session: Session, service_id: int) -> None:
    """Check-in switched off: the service's waiting tickets no longer wait for it and are called as usual (call-next
    looks for passed-over tickets only at counters whose services ask for check-in: wins.tickets.arrival). One
    `ticket.checkin_waived` event per ticket changed, in this transaction: sent once it commits, never before."""
    waived = session.scalars(
        update(Ticket)
        .where(
            Ticket.service_id == service_id,
            Ticket.status == TicketStatus.waiting,
            Ticket.checkin_required.is_(True),
            Ticket.checked_in_at.is_(None),  # one checked in meanwhile (its row lock taken first) stays checked in
        )
        .values(checkin_required=False)
        .returning(Ticket)
        .execution_options(synchronize_session="fetch")
    ).all()
    for ticket in sorted(waived, key=lambda t: t.id):
        record_event(session, CHECKIN_WAIVED, ticket_event_data(session, ticket), branch_id=ticket.branch_id)


def set_remote(
    session: Session,
    service_id: int,
    *,
    notify_ahead: int,
    remote_daily_cap: int | None,
    arrival_checkin: bool = False,
    checkin_grace_minutes: int = DEFAULT_CHECKIN_GRACE_MINUTES,
    actor: Principal | None,
) -> ServiceRemote:
    """A service's remote settings (manager of its branch). Arrival check-in applies to remote tickets issued
    after it is switched on; switching it off lets the tickets already waiting for check-in be called as usual."""
    from wins.audit.service import record_change
    from wins.auth import check_branch

    target = session.get(Service, service_id)
    if target is None:
        raise NotFound(f"No service {service_id}.")
    from wins.staff.models import Role

    check_branch(actor, target.branch_id, Role.manager)
    row = session.get(ServiceRemote, service_id)
    if row is None:
        row = ServiceRemote(service_id=service_id)
        session.add(row)
    row.notify_ahead = notify_ahead
    row.remote_daily_cap = remote_daily_cap
    if row.arrival_checkin and not arrival_checkin:
        _stop_waiting_for_checkin(session, service_id)
    row.arrival_checkin = arrival_checkin
    row.checkin_grace_minutes = checkin_grace_minutes
    session.flush()
    # Live screens follow it: the display board shows the check-in code only while a service asks for check-in.
    record_event(session, "service.remote_updated", fields_of(ServiceRemotePublic, row), branch_id=target.branch_id)
    record_change(
        session,
        actor,
        "service.remote",
        {
            "service_id": service_id,
            "notify_ahead": notify_ahead,
            "cap": remote_daily_cap,
            "arrival_checkin": arrival_checkin,
            "checkin_grace_minutes": checkin_grace_minutes,
        },
    )
    return row
