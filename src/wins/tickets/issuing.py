"""Issuing a ticket (every kiosk tap): the checks, the day's numbering (one upsert on `ticket_sequences` that hands
out the number and returns the queue length), the ticket and its event, in a few Core statements; on SQLite also
the event-loop path on a bare sqlite3 connection (`issue_on_loop`, used by the route and the express lane).

Concurrency: numbers come from the per-service-per-day row, bumped atomically in the issuing transaction (never
max()+1); a unique constraint (service, day, seq) backs it. docs/performance.md has the figures."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from wins import clock, db_flags
from wins.audit.models import AuditEntry
from wins.auth import Principal
from wins.config import Settings
from wins.db import Database, RawStatement, RawTransaction
from wins.devices.models import DeviceKind
from wins.errors import Conflict, ValidationFailed
from wins.events.service import APPEND_EVENT, EVENT_COLUMNS, take_event_order
from wins.schemas import TicketCreate
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
    dialect = conn.dialect.name
    statements = {
        "by_key": _BY_KEY,
        "next_number": _NEXT_NUMBER[dialect],
        "insert_ticket": _INSERT_TICKET,
        "event": APPEND_EVENT,
        "audit": _AUDIT,
    }

    def run(name: str, params: dict[str, Any]) -> Any:
        if name == "next_number":
            # PostgreSQL: the event-order lock comes before the sequence row, as in every other writer.
            take_event_order(session)
        result = conn.execute(statements[name], params)
        if name in ("event", "audit"):
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
    if not service.active:
        raise Conflict(f"{service.name} is not taking tickets right now. Please choose another service.")
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
    channel: str | None = None,
) -> Issued:
    """The issuing transaction, after `check_issue`: a repeated key returns the first ticket (`created` False).
    `channel` (kiosk, staff, remote) defaults to who issues: staff or a kiosk."""
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
    seq, waiting, waiting_priority = sql("next_number", {"service_id": service.id, "day": day, "prio": int(priority)})
    values: dict[str, Any] = {
        "branch_id": service.branch_id,
        "service_id": service.id,
        "issued_service_id": service.id,
        "business_day": day,
        "seq": seq,
        "number": f"{service.prefix}{seq:03d}",
        "priority": priority,
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
    (ticket_id,) = sql("insert_ticket", values)
    # The new ticket as the row just written (no ORM object: docs/performance.md), for the shared payload builders.
    row = SimpleNamespace(
        **values, id=ticket_id, counter_id=None, called_at=None, serving_at=None, finished_at=None, staff_id=None
    )
    data = ticket_payload(row, service_name=service.name, counter_name=None)
    sql("event", {"at": now, "type": "ticket.issued", "data": data, "branch_id": service.branch_id})
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
    data = {**data, **ticket_details(row)}
    # Everyone waiting is ahead of a new ticket; of a new priority ticket, only the priority ones.
    return Issued(ticket_id, True, data, people_ahead=(waiting_priority if priority else waiting) - 1)


def issue(
    session: Session,
    *,
    service_id: int,
    actor: Principal,
    priority: bool = False,
    idempotency_key: str | None = None,
    language: str | None = None,
    channel: str | None = None,
) -> Issued:
    """Issue a ticket in the session's transaction; a repeated idempotency key returns the first ticket."""
    may_issue(actor, channel)
    service = service_info(session, service_id)
    key = check_issue(service, actor=actor, priority=priority, idempotency_key=idempotency_key)
    if key is not None and session.get_bind().dialect.name == "postgresql":
        # Two requests with one key wait for each other instead of racing on the unique index.
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"{idempotency_scope(actor)} {key}"}
        )
    db_flags.note_load_neutral(session)
    return issue_with(
        session_sql(session),
        service,
        actor=actor,
        priority=priority,
        idempotency_key=key,
        language=language,
        channel=channel,
    )


def new_ticket_view(issued: Issued, load: est.ServiceLoad) -> dict[str, Any]:
    """`ticket_view` of a ticket just created, from what the transaction wrote (no reading back)."""
    return {**issued.data, **wait_fields(est.estimate_for(issued.people_ahead, load))}


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
        )
    )
    if not issued.created:
        with db.session(write=False) as read:
            return issued_view(read, issued, settings=settings), False
    return new_ticket_view(issued, load), True
