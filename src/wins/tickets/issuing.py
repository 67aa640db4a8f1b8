"""Issuing a ticket (every kiosk tap): the checks, the day's numbering (one upsert on `ticket_sequences` that hands
out the number and returns the queue length), the ticket and its event, in a few Core statements; on SQLite also
the event-loop path on a bare sqlite3 connection (`issue_on_loop`, used by the route and the express lane).

Concurrency: numbers come from the per-service-per-day row, bumped atomically in the issuing transaction (never
max()+1); a unique constraint (service, day, seq) backs it. docs/performance.md has the figures."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from wins import clock, db_flags
from wins.audit.models import AuditEntry
from wins.auth import Principal
from wins.branches.models import Branch
from wins.config import Settings
from wins.db import Database, RawStatement, RawTransaction
from wins.devices.kiosk import priority_categories
from wins.devices.models import DeviceKind
from wins.enums import Role
from wins.errors import Conflict, ValidationFailed
from wins.events.service import APPEND_EVENT, EVENT_COLUMNS, EVENTS
from wins.schemas import TicketCreate
from wins.services import hours
from wins.staff.security import new_tracking_token
from wins.tickets import estimate as est
from wins.tickets.caches import ServiceInfo, cached_service_info, cached_service_load, service_info, service_load
from wins.tickets.models import Ticket, TicketStatus
from wins.tickets.queue_counts import SEQUENCES, TICKETS
from wins.tickets.views import get_ticket, ticket_details, ticket_payload, ticket_view, wait_fields

logger = logging.getLogger("wins.tickets.service")  # the logger name operators know from before the split


def _upsert_sequence(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(SEQUENCES).values(
        service_id=bindparam("service_id"),
        business_day=bindparam("day"),
        last_seq=1,
        waiting=1,
        waiting_priority=bindparam("prio"),
    )
    return stmt.on_conflict_do_update(
        index_elements=["service_id", "business_day"],
        set_={
            "last_seq": SEQUENCES.c.last_seq + 1,
            "waiting": SEQUENCES.c.waiting + 1,
            "waiting_priority": SEQUENCES.c.waiting_priority + stmt.excluded.waiting_priority,
        },
    ).returning(SEQUENCES.c.last_seq, SEQUENCES.c.waiting, SEQUENCES.c.waiting_priority)


_NEXT_NUMBER = {dialect: _upsert_sequence(dialect) for dialect in ("sqlite", "postgresql")}
_INSERT_TICKET = TICKETS.insert().returning(TICKETS.c.id)
_BY_KEY = select(TICKETS.c.id, TICKETS.c.issued_service_id).where(
    TICKETS.c.idempotency_scope == bindparam("scope"), TICKETS.c.idempotency_key == bindparam("key")
)
_TICKET_COLUMNS = [
    "branch_id",
    "service_id",
    "issued_service_id",
    "business_day",
    "seq",
    "number",
    "priority",
    "priority_category",
    "status",
    "tracking_token",
    "idempotency_key",
    "idempotency_scope",
    "language",
    "issued_at",
    "queue_at",
    "call_count",
    "transfer_count",
    "issued_by_device_id",
    "issued_by_staff_id",
    "channel",
]
_AUDIT = cast(Table, AuditEntry.__table__).insert()
_AUDIT_COLUMNS = ["at", "staff_id", "device_id", "action", "ticket_id", "details"]
# PostgreSQL: two statements per tap (each a round trip to the server). The number, the queue length and the new
# ticket's id (drawn from its sequence) in one; the ticket and its event, both built here, in the other.
_NUMBER_AND_ID = select(*_NEXT_NUMBER["postgresql"].cte("number").c, func.nextval(text("'tickets_id_seq'::regclass")))
_TICKET_AND_EVENT = APPEND_EVENT.values(
    {c: bindparam(f"event_{c}", type_=EVENTS.c[c].type) for c in EVENT_COLUMNS}
).add_cte(
    TICKETS.insert()
    .values({c: bindparam(f"ticket_{c}", type_=TICKETS.c[c].type) for c in ["id", *_TICKET_COLUMNS]})
    .cte("ticket")
)
# The same statements, compiled once for a bare sqlite3 connection (Database.raw_sqlite_write).
_RAW = {
    "by_key": RawStatement(_BY_KEY),
    "next_number": RawStatement(_NEXT_NUMBER["sqlite"]),
    "insert_ticket": RawStatement(_INSERT_TICKET, columns=_TICKET_COLUMNS),
    "event": RawStatement(APPEND_EVENT, columns=EVENT_COLUMNS),
    "audit": RawStatement(_AUDIT, columns=_AUDIT_COLUMNS),
}


class IssueSql(Protocol):
    """Runs one of issuing's statements by name and returns its first row as a tuple (None if it has none)."""

    def __call__(self, name: str, params: dict[str, Any]) -> Any: ...


def session_sql(session: Session) -> IssueSql:
    """Issuing's statements through SQLAlchemy Core, in the session's transaction (any database)."""
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    statements = {
        "by_key": _BY_KEY,
        "next_number": _NUMBER_AND_ID if postgres else _NEXT_NUMBER["sqlite"],
        "insert_ticket": _INSERT_TICKET,
        "event": APPEND_EVENT,
        "ticket_and_event": _TICKET_AND_EVENT,
        "audit": _AUDIT,
    }

    def run(name: str, params: dict[str, Any]) -> Any:
        if name == "ticket_and_event":
            ticket, event = params["ticket"], params["event"]
            params = {f"ticket_{k}": v for k, v in ticket.items()} | {f"event_{k}": v for k, v in event.items()}
        result = conn.execute(statements[name], params)
        if name in ("event", "ticket_and_event", "audit"):
            db_flags.note_events_written(session)
            return None
        return result.first()

    return run


def raw_sqlite_sql(transaction: RawTransaction) -> IssueSql:
    """Issuing's statements on a bare sqlite3 connection inside Database.raw_sqlite_write."""
    conn = transaction.conn

    def run(name: str, params: dict[str, Any]) -> Any:
        rows = _RAW[name].execute(conn, params).fetchall()
        if name == "event":
            db_flags.note_events_written(transaction)
        return rows[0] if rows else None

    return run


@dataclass(frozen=True)
class Issued:
    """The outcome of a tap: the ticket's public data, and its place when it was just created."""

    ticket_id: int
    created: bool
    data: dict[str, Any]  # ticket_event_data() plus tracking_token and the other ticket_view fields
    people_ahead: int = 0


def may_issue(actor: Principal, channel: str | None = None) -> None:
    """Only a kiosk or staff issue tickets (checked first: a display learns nothing about services); the remote
    join page (wins.join, channel "remote") issues for a customer with no sign-in, after its own checks."""
    if channel == "remote" and actor.staff is None and actor.device is None:
        return
    actor.require_device_or_staff(DeviceKind.kiosk)


def idempotency_scope(actor: Principal) -> str:
    """Whose Idempotency-Key it is: a key repeats only the tickets its own sender issued (a kiosk's key never
    returns another kiosk's ticket and tracking token)."""
    return f"device:{actor.device.id}" if actor.device is not None else f"staff:{actor.staff.id if actor.staff else 0}"


def check_issue(service: ServiceInfo, *, actor: Principal, priority: bool, idempotency_key: str | None) -> str | None:
    """Everything that can refuse a tap before the database is touched (after `may_issue`); returns the
    cleaned Idempotency-Key."""
    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()
        if not 8 <= len(idempotency_key) <= 128:
            raise ValidationFailed("The Idempotency-Key header must be 8 to 128 characters (a UUID is fine).")
    # A kiosk issues only for its own branch's services; staff only in a branch where they have a role. (A remote
    # join has neither: `may_issue` let it through, and wins.join chose the branch's service itself.)
    if actor.staff is not None or actor.device is not None:
        actor.require_same_branch(service.branch_id, f"Service {service.id}", Role.reception)  # reception issues
    if not service.active:
        raise Conflict(f"{service.name} is not taking tickets right now. Please choose another service.")
    if service.hours is not None or service.holidays:  # hours, holidays, cut-off: the one home of that rule
        now = clock.utcnow()
        if not hours.takes_tickets(service.hours, service.holidays, now=now, timezone=service.timezone):
            state = hours.open_state(service.hours, service.holidays, now=now, timezone=service.timezone)
            minutes = service.hours.last_ticket_minutes if service.hours else 0
            raise hours.closed_refusal(service.name, state, now=now, minutes=minutes)
    if priority and actor.staff is None and not _kiosk_may_prioritise(actor):
        raise ValidationFailed("Only staff can issue priority tickets.")
    return idempotency_key


def issue_with(
    sql: IssueSql,
    service: ServiceInfo,
    *,
    actor: Principal,
    priority: bool,
    idempotency_key: str | None,
    language: str | None,
    load: est.ServiceLoad | None = None,
    priority_category: str | None = None,
    channel: str | None = None,
) -> Issued:
    """The issuing transaction, after `check_issue`: a repeated key returns the first ticket (`created` False).
    `load` is needed only by a service that stops issuing when the wait passes its closing time. `channel`
    (kiosk, staff, remote) defaults to who issues: staff or a kiosk."""
    scope = idempotency_scope(actor) if idempotency_key is not None else None
    if idempotency_key is not None:
        existing = sql("by_key", {"scope": scope, "key": idempotency_key})
        if existing is not None:
            existing_id, issued_service_id = existing
            if issued_service_id != service.id:
                raise Conflict("This Idempotency-Key was already used for another service; send a new key.")
            return Issued(existing_id, False, {})
    now = clock.utcnow()
    day = clock.business_day(now, timezone=service.timezone, rollover_hour=service.rollover_hour)
    # On PostgreSQL the new ticket's id comes with its number (`reserved`); on SQLite from the insert.
    seq, waiting, waiting_priority, *reserved = sql(
        "next_number", {"service_id": service.id, "day": day, "prio": int(priority)}
    )
    people_ahead = (waiting_priority if priority else waiting) - 1
    if service.hours is not None and service.hours.stop_when_wait_exceeds_time_left and load is not None:
        _check_time_left(service, now, est.estimate_for(people_ahead, load).seconds)
    values: dict[str, Any] = {
        "branch_id": service.branch_id,
        "service_id": service.id,
        "issued_service_id": service.id,
        "business_day": day,
        "seq": seq,
        "number": f"{service.prefix}{seq:03d}",
        "priority": priority,
        "priority_category": priority_category,
        "status": TicketStatus.waiting.value,
        "tracking_token": new_tracking_token(),
        "idempotency_key": idempotency_key,
        "idempotency_scope": scope,
        "language": language,
        "issued_at": now,
        "queue_at": now,
        "call_count": 0,
        "transfer_count": 0,
        "issued_by_device_id": actor.device.id if actor.device else None,
        "issued_by_staff_id": actor.staff.id if actor.staff else None,
        "channel": channel or ("staff" if actor.staff is not None else "kiosk"),
    }
    (ticket_id,) = reserved or sql("insert_ticket", values)
    # The new ticket as the row to write (no ORM object: docs/performance.md), for the shared payload builders.
    row = SimpleNamespace(
        **values, id=ticket_id, counter_id=None, called_at=None, serving_at=None, finished_at=None, staff_id=None
    )
    data = ticket_payload(row, service_name=service.name, counter_name=None)
    event = {"at": now, "type": "ticket.issued", "data": data, "branch_id": service.branch_id}
    if reserved:
        sql("ticket_and_event", {"ticket": {**values, "id": ticket_id}, "event": event})
    else:
        sql("event", event)
    if actor.staff is not None:
        sql(
            "audit",
            {
                "at": now,
                "staff_id": actor.staff.id,
                "device_id": None,
                "action": "ticket.issue",
                "ticket_id": ticket_id,
                "details": {},
            },
        )
    logger.info("ticket %s issued for %s by %s", values["number"], service.name, actor.label)
    # A new ticket needs no arrival check-in yet: a remote join sets that after issuing (wins.tickets.arrival).
    data = {**data, **ticket_details(row), "arrival": None, "checkin_deadline": None}
    # Everyone waiting is ahead of a new ticket; of a new priority ticket, only the priority ones.
    return Issued(ticket_id, True, data, people_ahead=people_ahead)


def _check_time_left(service: ServiceInfo, now: datetime, wait_seconds: int) -> None:
    """Refuse (the caller's transaction rolls back the number just taken) when the wait passes the closing time."""
    assert service.hours is not None
    state = hours.open_state(service.hours, service.holidays, now=now, timezone=service.timezone)
    if state.closes_at is not None and now + timedelta(seconds=wait_seconds) > state.closes_at:
        raise hours.too_late_refusal(
            service.name, service.hours, service.holidays, now=now, timezone=service.timezone, closes_at=state.closes_at
        )


def issue(
    session: Session,
    *,
    service_id: int,
    actor: Principal,
    priority: bool = False,
    idempotency_key: str | None = None,
    language: str | None = None,
    settings: Settings | None = None,
    priority_category: str | None = None,
    channel: str | None = None,
) -> Issued:
    """Issue a ticket in the session's transaction; a repeated idempotency key returns the first ticket.
    `settings` (the wait estimate's) matter only to a service that stops issuing when the wait passes closing. A
    `priority_category` (a key of the branch's `priority_categories`) makes it a priority ticket."""
    may_issue(actor, channel)
    service = service_info(session, service_id)
    if priority_category is not None:
        check_category(session, service, priority_category, actor=actor)
        priority = True
    key = check_issue(service, actor=actor, priority=priority, idempotency_key=idempotency_key)
    # Two requests with one key at once (PostgreSQL): the second waits on the first's ticket in the unique index,
    # fails when it commits (uq_tickets_idempotency_scope_key), and wins.retry runs it again: it then finds the
    # first ticket and answers with it.
    load = None
    if service.hours is not None and service.hours.stop_when_wait_exceeds_time_left:
        load = service_load(session, service.id, settings=settings or Settings())
    db_flags.note_load_neutral(session)
    return issue_with(
        session_sql(session),
        service,
        actor=actor,
        priority=priority,
        idempotency_key=key,
        language=language,
        load=load,
        priority_category=priority_category,
        channel=channel,
    )


def check_category(session: Session, service: ServiceInfo, key: str, *, actor: Principal) -> None:
    """A named priority category must be one of the branch's; a kiosk may only use those offered on kiosks."""
    branch = session.get(Branch, service.branch_id)
    categories = {c.key: c for c in priority_categories(branch.settings if branch else {})}
    category = categories.get(key)
    if category is None:
        known = ", ".join(categories) or "none are set up (a manager adds them in the branch settings)"
        raise ValidationFailed(f"Unknown priority category {key!r}. The branch's categories: {known}.")
    if actor.staff is None and not (category.on_kiosk and _kiosk_may_prioritise(actor)):
        raise ValidationFailed(f"The priority category {key!r} is for staff to give (not offered on kiosks).")


def new_ticket_view(issued: Issued, load: est.ServiceLoad) -> dict[str, Any]:
    """`ticket_view` of a ticket just created, from what the transaction wrote (no reading back)."""
    return {**issued.data, **wait_fields(est.estimate_for(issued.people_ahead, load), issued.data["language"])}


def issued_view(session: Session, issued: Issued, *, settings: Settings) -> dict[str, Any]:
    """`ticket_view` of the outcome of `issue` (a replay reads the ticket)."""
    if not issued.created:
        return ticket_view(session, get_ticket(session, issued.ticket_id), settings=settings)
    return new_ticket_view(issued, service_load(session, issued.data["service_id"], settings=settings))


def issue_ticket(
    session: Session,
    *,
    service_id: int,
    actor: Principal,
    priority: bool = False,
    idempotency_key: str | None = None,
    language: str | None = None,
) -> tuple[Ticket, bool]:
    """`issue` for in-process callers that want the Ticket object: (ticket, created)."""
    issued = issue(
        session,
        service_id=service_id,
        actor=actor,
        priority=priority,
        idempotency_key=idempotency_key,
        language=language,
    )
    return get_ticket(session, issued.ticket_id), issued.created


def _kiosk_may_prioritise(actor: Principal) -> bool:
    # A kiosk may offer a "priority" button (elderly, pregnant …) when its config allows it.
    return bool(actor.device and actor.device.config.get("allow_priority"))


def issue_on_loop(
    db: Database, settings: Settings, actor: Principal, body: TicketCreate, idempotency_key: str | None
) -> tuple[dict[str, Any], bool]:
    """The hottest route on SQLite, run right on the event loop with no thread hop: the checks and the wait
    estimate from per-process caches (a read session touches the database only when one misses), then the
    few statements of `issue_with` on a bare sqlite3 connection. The whole transaction takes a fraction of a
    millisecond and SQLite serialises writers anyway; if another thread holds the write lock this raises
    WriteLockBusy before touching anything, and the caller takes the ordinary path (docs/performance.md)."""
    may_issue(actor)
    url = db.read_engine.url
    info = cached_service_info(url, body.service_id)
    load = cached_service_load(url, body.service_id, settings=settings)
    if info is None or load is None:
        with db.session(write=False) as read:
            info = service_info(read, body.service_id)
            load = service_load(read, body.service_id, settings=settings)
    key = check_issue(info, actor=actor, priority=body.priority, idempotency_key=idempotency_key)
    issued = db.raw_sqlite_write(
        lambda transaction: issue_with(
            raw_sqlite_sql(transaction),
            info,
            actor=actor,
            priority=body.priority,
            idempotency_key=key,
            language=body.language,
            load=load,
        )
    )
    if not issued.created:
        with db.session(write=False) as read:
            return issued_view(read, issued, settings=settings), False
    return new_ticket_view(issued, load), True
