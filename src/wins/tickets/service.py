"""The queue engine: issue, call, serve, finish, transfer. Every change writes an event and an audit entry.

Concurrency (see docs/architecture.md):
- numbers come from `ticket_sequences`, bumped with one atomic upsert in the issuing transaction;
- call-next claims a ticket with `FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite every write
  transaction is `BEGIN IMMEDIATE`, so claims are serial;
- unique constraints back both rules (service/day/seq, one held ticket per counter).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, event, func, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from wins import clock, db_flags
from wins.audit.models import AuditEntry
from wins.audit.service import record as audit
from wins.auth import Principal
from wins.branches.models import Branch
from wins.branches.service import get_branch, today
from wins.config import Settings
from wins.counters.models import Counter, CounterService
from wins.counters.service import counter_event_data, counter_public, get_counter, seat_staff
from wins.db import RawStatement, RawTransaction, WinsSession
from wins.devices.models import DeviceKind
from wins.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from wins.events.service import APPEND_EVENT, EVENT_COLUMNS, record_event, take_event_order
from wins.services.models import Service
from wins.services.service import get_service
from wins.staff.security import new_tracking_token
from wins.tickets import estimate as est
from wins.tickets.models import HELD, IS_HELD, Ticket, TicketSequence, TicketStatus
from wins.tickets.states import CALL, FINISH_HELD, FINISHED, Action, Transition, check_allowed

logger = logging.getLogger(__name__)


# -- reading -------------------------------------------------------------------------------------------


def get_ticket(session: Session, ticket_id: int, *, lock: bool = False) -> Ticket:
    query = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        query = query.with_for_update()
    ticket = session.scalar(query)
    if ticket is None:
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    return ticket


def get_by_tracking_token(session: Session, token: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.tracking_token == token)) if token else None
    if ticket is None:
        raise NotFound("No ticket matches this link. Check the address on your slip, or ask at the desk.")
    return ticket


def ticket_event_data(session: Session, ticket: Ticket) -> dict[str, Any]:
    """What displays and staff screens get about a ticket (no tracking token, no personal data)."""
    service = session.get(Service, ticket.service_id)
    counter = session.get(Counter, ticket.counter_id) if ticket.counter_id else None
    return {
        "id": ticket.id,
        "number": ticket.number,
        "status": ticket.status,
        "service_id": ticket.service_id,
        "service_name": service.name if service else None,
        "priority": ticket.priority,
        "counter_id": ticket.counter_id,
        "counter_name": counter.name if counter else None,
        "call_count": ticket.call_count,
        "language": ticket.language,
        "issued_at": ticket.issued_at.isoformat(),
        "queue_at": ticket.queue_at.isoformat(),
        "called_at": ticket.called_at.isoformat() if ticket.called_at else None,
        "business_day": ticket.business_day.isoformat(),
    }


# -- wait-estimate inputs, cached ------------------------------------------------------------------------
# A service's load (mean service time, open and idle counters) costs three queries, is needed by every issued
# ticket, and changes only when a ticket is called or finished or a counter changes. So each process keeps it
# until its next committed write that is not a plain issue (exact within the process), and at most
# LOAD_CACHE_SECONDS (how stale it can be after a change made by another worker process).
LOAD_CACHE_SECONDS = 1.0
_load_cache: dict[tuple[Any, int, int, int, int], tuple[float, int, est.ServiceLoad]] = {}
_load_generation = [0]


@event.listens_for(WinsSession, "after_commit")
def _forget_loads(session: Session) -> None:
    if db_flags.is_read_only(session):
        return
    if db_flags.take_load_neutral(session):
        return
    _load_generation[0] += 1


# -- queue lengths ---------------------------------------------------------------------------------------
# ticket_sequences.waiting / waiting_priority count the waiting tickets per service and day. Issuing bumps them
# in its own upsert; every other change goes through ORM objects, and these listeners keep the counts in step:
# before each flush they note which (service, day) queues a ticket left or joined, and just before commit they
# apply the sums. Applying at commit keeps the lock order of every writer the same on PostgreSQL: the event-order
# lock (taken by the first event) first, then sequence rows, in key order.
_SEQUENCES = cast(Table, TicketSequence.__table__)
_TICKETS = cast(Table, Ticket.__table__)
_QUEUE_ATTRS = ("status", "service_id", "business_day", "priority")


def _queue_of(values: dict[str, Any]) -> tuple[int, Any, bool] | None:
    if values["status"] != TicketStatus.waiting:
        return None
    return values["service_id"], values["business_day"], bool(values["priority"])


@event.listens_for(WinsSession, "before_flush")
def _track_queue_changes(session: Session, _context: Any, _instances: Any) -> None:
    changes: list[tuple[tuple[int, Any, bool] | None, tuple[int, Any, bool] | None]] = []
    for obj in session.new:
        if isinstance(obj, Ticket):
            values = {a: getattr(obj, a) for a in _QUEUE_ATTRS}
            values["status"] = values["status"] or TicketStatus.waiting  # the column default, applied at INSERT
            changes.append((None, _queue_of(values)))
    for obj in (*session.dirty, *session.deleted):
        if not isinstance(obj, Ticket):
            continue
        state = inspect(obj)
        new = {a: getattr(obj, a) for a in _QUEUE_ATTRS}
        old = dict(new)
        for a in _QUEUE_ATTRS:
            deleted = state.attrs[a].history.deleted
            if deleted:
                old[a] = deleted[0]
        changes.append((_queue_of(old), None if obj in session.deleted else _queue_of(new)))
    deltas = db_flags.queue_deltas(session)
    for before, after in changes:
        if before == after:
            continue
        for queue, sign in ((before, -1), (after, 1)):
            if queue is not None:
                delta = deltas.setdefault(queue[:2], [0, 0])
                delta[0] += sign
                delta[1] += sign if queue[2] else 0


def _apply_queue_deltas_statement(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(_SEQUENCES).values(
        service_id=bindparam("service_id"),
        business_day=bindparam("day"),
        last_seq=0,
        waiting=bindparam("d"),
        waiting_priority=bindparam("dp"),
    )
    table = _SEQUENCES
    return stmt.on_conflict_do_update(
        index_elements=["service_id", "business_day"],
        set_={
            "waiting": table.c.waiting + stmt.excluded.waiting,
            "waiting_priority": table.c.waiting_priority + stmt.excluded.waiting_priority,
        },
    )


_APPLY_QUEUE_DELTAS = {dialect: _apply_queue_deltas_statement(dialect) for dialect in ("sqlite", "postgresql")}


@event.listens_for(WinsSession, "before_commit")
def _apply_queue_changes(session: Session) -> None:
    if db_flags.is_read_only(session):
        return
    if session.new or session.dirty or session.deleted:
        session.flush()
    deltas = db_flags.take_queue_deltas(session)
    if not deltas:
        return
    conn = session.connection()
    statement = _APPLY_QUEUE_DELTAS[conn.dialect.name]
    for (service_id, day), (d, dp) in sorted(deltas.items()):
        if d or dp:
            conn.execute(statement, {"service_id": service_id, "day": day, "d": d, "dp": dp})


@event.listens_for(WinsSession, "after_rollback")
def _forget_queue_changes(session: Session) -> None:
    db_flags.take_queue_deltas(session)


def _load_key(url: Any, service_id: int, settings: Settings) -> tuple[Any, int, int, int, int]:
    # The load also looks at recent calls, so the key includes the (freezable) clock in 10 s steps.
    return (
        url,
        service_id,
        settings.estimate_sample_size,
        settings.default_service_seconds,
        int(clock.utcnow().timestamp() // 10),
    )


def cached_service_load(url: Any, service_id: int, *, settings: Settings) -> est.ServiceLoad | None:
    """The cached load of a service of the database at `url` (an engine's URL), or None."""
    hit = _load_cache.get(_load_key(url, service_id, settings))
    if hit is not None and hit[0] > time.monotonic() and hit[1] == _load_generation[0]:
        return hit[2]
    return None


def service_load(session: Session, service_id: int, *, settings: Settings) -> est.ServiceLoad:
    url = session.get_bind().engine.url
    load = cached_service_load(url, service_id, settings=settings)
    if load is not None:
        return load
    generation = _load_generation[0]
    load = est.service_load(
        session, service_id, sample_size=settings.estimate_sample_size, default_seconds=settings.default_service_seconds
    )
    if len(_load_cache) > 1000:
        _load_cache.clear()
    _load_cache[_load_key(url, service_id, settings)] = (time.monotonic() + LOAD_CACHE_SECONDS, generation, load)
    return load


def ticket_view(session: Session, ticket: Ticket, *, settings: Settings) -> dict[str, Any]:
    """A ticket with its position and estimated wait."""
    data = ticket_event_data(session, ticket)
    if ticket.status == TicketStatus.waiting:
        load = service_load(session, ticket.service_id, settings=settings)
        data.update(_wait_fields(est.estimate_for(est.people_ahead(session, ticket), load)))
    else:
        data.update(position=0, people_ahead=0, estimated_wait_seconds=0, estimated_wait_range=[0, 0])
    data.update(
        tracking_token=ticket.tracking_token,
        serving_at=ticket.serving_at.isoformat() if ticket.serving_at else None,
        finished_at=ticket.finished_at.isoformat() if ticket.finished_at else None,
        staff_id=ticket.staff_id,
        transfer_count=ticket.transfer_count,
    )
    return data


def _wait_fields(e: est.Estimate) -> dict[str, Any]:
    """A waiting ticket's place and wait, as `ticket_view` and `new_ticket_view` show them."""
    return {
        "position": e.people_ahead + 1,
        "people_ahead": e.people_ahead,
        "estimated_wait_seconds": e.seconds,
        "estimated_wait_range": [e.low, e.high],
    }


# -- issuing ------------------------------------------------------------------------------------------
# Issuing is the hottest path (every kiosk tap, and bursts when a bus unloads), so it is written as a few Core
# statements instead of ORM objects (docs/performance.md measured ~4 ms of CPU per ticket through the ORM):
#   [SELECT by Idempotency-Key] -> one upsert on ticket_sequences that hands out the number AND returns how many
#   wait already (so the place in the queue needs no COUNT over a queue that may hold thousands) -> INSERT ticket
#   -> INSERT event. The service and its branch come from a per-process cache (below).


@dataclass(frozen=True)
class ServiceInfo:
    """What issuing needs to know about a service and its branch."""

    id: int
    branch_id: int
    name: str
    prefix: str
    active: bool
    timezone: str
    rollover_hour: int


SERVICE_CACHE_SECONDS = 1.0
_service_cache: dict[tuple[Any, int], tuple[float, int, ServiceInfo]] = {}


def cached_service_info(url: Any, service_id: int) -> ServiceInfo | None:
    """The cached ServiceInfo of a service of the database at `url` (an engine's URL), or None."""
    # Exact within the process (any committed change other than a plain issue empties it, like the load cache);
    # another worker's edit (a service switched off) shows within SERVICE_CACHE_SECONDS.
    hit = _service_cache.get((url, service_id))
    if hit is not None and hit[0] > time.monotonic() and hit[1] == _load_generation[0]:
        return hit[2]
    return None


def service_info(session: Session, service_id: int) -> ServiceInfo:
    url = session.get_bind().engine.url
    info = cached_service_info(url, service_id)
    if info is not None:
        return info
    generation = _load_generation[0]
    row = session.execute(
        select(Service, Branch).join(Branch, Branch.id == Service.branch_id).where(Service.id == service_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"Service {service_id} does not exist.")
    service, branch = row
    info = ServiceInfo(
        service.id, branch.id, service.name, service.prefix, service.active, branch.timezone, branch.day_rollover_hour
    )
    if len(_service_cache) > 1000:
        _service_cache.clear()
    _service_cache[(url, service_id)] = (time.monotonic() + SERVICE_CACHE_SECONDS, generation, info)
    return info


def _upsert_sequence(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(_SEQUENCES).values(
        service_id=bindparam("service_id"),
        business_day=bindparam("day"),
        last_seq=1,
        waiting=1,
        waiting_priority=bindparam("prio"),
    )
    return stmt.on_conflict_do_update(
        index_elements=["service_id", "business_day"],
        set_={
            "last_seq": _SEQUENCES.c.last_seq + 1,
            "waiting": _SEQUENCES.c.waiting + 1,
            "waiting_priority": _SEQUENCES.c.waiting_priority + stmt.excluded.waiting_priority,
        },
    ).returning(_SEQUENCES.c.last_seq, _SEQUENCES.c.waiting, _SEQUENCES.c.waiting_priority)


_NEXT_NUMBER = {dialect: _upsert_sequence(dialect) for dialect in ("sqlite", "postgresql")}
_INSERT_TICKET = _TICKETS.insert().returning(_TICKETS.c.id)
_BY_KEY = select(_TICKETS.c.id, _TICKETS.c.issued_service_id).where(
    _TICKETS.c.idempotency_scope == bindparam("scope"), _TICKETS.c.idempotency_key == bindparam("key")
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


def may_issue(actor: Principal) -> None:
    """Only a kiosk or staff issue tickets (checked first: a display learns nothing about services)."""
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
) -> Issued:
    """The issuing transaction, after `check_issue`: a repeated key returns the first ticket (`created` False)."""
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
    }
    (ticket_id,) = sql("insert_ticket", values)
    data: dict[str, Any] = {
        "id": ticket_id,
        "number": values["number"],
        "status": TicketStatus.waiting.value,
        "service_id": service.id,
        "service_name": service.name,
        "priority": priority,
        "counter_id": None,
        "counter_name": None,
        "call_count": 0,
        "language": language,
        "issued_at": now.isoformat(),
        "queue_at": now.isoformat(),
        "called_at": None,
        "business_day": day.isoformat(),
    }
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
    data = {
        **data,
        "tracking_token": values["tracking_token"],
        "serving_at": None,
        "finished_at": None,
        "staff_id": None,
        "transfer_count": 0,
    }
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
) -> Issued:
    """Issue a ticket in the session's transaction; a repeated idempotency key returns the first ticket."""
    may_issue(actor)
    service = service_info(session, service_id)
    key = check_issue(service, actor=actor, priority=priority, idempotency_key=idempotency_key)
    if key is not None and session.get_bind().dialect.name == "postgresql":
        # Two requests with one key wait for each other instead of racing on the unique index.
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"{idempotency_scope(actor)} {key}"}
        )
    db_flags.note_load_neutral(session)
    return issue_with(
        session_sql(session), service, actor=actor, priority=priority, idempotency_key=key, language=language
    )


def new_ticket_view(issued: Issued, load: est.ServiceLoad) -> dict[str, Any]:
    """`ticket_view` of a ticket just created, from what the transaction wrote (no reading back)."""
    return {**issued.data, **_wait_fields(est.estimate_for(issued.people_ahead, load))}


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


# -- calling ------------------------------------------------------------------------------------------


def _finish_held(session: Session, counter: Counter, actor: Principal, now: datetime) -> None:
    held = session.scalars(select(Ticket).where(Ticket.counter_id == counter.id, IS_HELD).with_for_update()).all()
    for ticket in held:
        _set_status(session, ticket, FINISH_HELD, actor, now=now)


def _waiting_query(counter: Counter, day: Any, *, postgres: bool) -> Any:
    query = (
        select(Ticket)
        .join(
            CounterService, (CounterService.service_id == Ticket.service_id) & (CounterService.counter_id == counter.id)
        )
        .join(Service, Service.id == Ticket.service_id)
        .where(Ticket.status == TicketStatus.waiting, Ticket.business_day == day, Service.active.is_(True))
        .order_by(
            Ticket.priority.desc(), Service.priority_weight.desc(), CounterService.position, Ticket.queue_at, Ticket.id
        )
        .limit(1)
    )
    if postgres:
        # Another counter's claim in flight is skipped, not waited for: no two counters get one ticket.
        query = query.with_for_update(skip_locked=True, of=Ticket)
    return query


def call_next(session: Session, *, counter_id: int, actor: Principal) -> Ticket | None:
    """Finish what the counter holds, then call the next waiting ticket it serves (None if nobody waits)."""
    staff = actor.require_staff()
    counter = get_counter(session, counter_id, lock=True)
    if not counter.active:
        raise Conflict(f"Counter {counter.name} is switched off; an admin can switch it on.")
    branch = get_branch(session, counter.branch_id)
    now = clock.utcnow()
    _finish_held(session, counter, actor, now)
    ticket: Ticket | None = session.scalar(_waiting_query(counter, today(branch), postgres=_is_pg(session)))
    if ticket is None:
        if counter.staff_id != staff.id:
            _sit_down(session, counter, staff.id)
        audit(session, actor=actor, action="counter.call_next_empty", details={"counter_id": counter.id})
        return None
    _call(session, ticket, counter, actor, now)
    return ticket


def call_ticket(session: Session, *, counter_id: int, ticket_id: int, actor: Principal) -> Ticket:
    """Call one waiting ticket out of order (the counter's current ticket is finished first)."""
    actor.require_staff()
    counter = get_counter(session, counter_id, lock=True)
    if not counter.active:
        raise Conflict(f"Counter {counter.name} is switched off; an admin can switch it on.")
    ticket = get_ticket(session, ticket_id, lock=True)
    if ticket.status != TicketStatus.waiting:
        raise InvalidTransition(_not_waiting_message(session, ticket))
    now = clock.utcnow()
    _finish_held(session, counter, actor, now)
    _call(session, ticket, counter, actor, now, details={"out_of_order": True})
    return ticket


def _sit_down(session: Session, counter: Counter, staff_id: int) -> None:
    if seat_staff(session, counter, staff_id=staff_id):
        session.flush()
        record_event(session, "counter.updated", counter_event_data(session, counter), branch_id=counter.branch_id)


def _call(
    session: Session,
    ticket: Ticket,
    counter: Counter,
    actor: Principal,
    now: datetime,
    *,
    details: dict[str, Any] | None = None,
) -> None:
    assert actor.staff is not None
    if counter.staff_id != actor.staff.id:
        _sit_down(session, counter, actor.staff.id)
    ticket.counter_id = counter.id
    ticket.staff_id = actor.staff.id
    ticket.called_at = now
    ticket.first_called_at = ticket.first_called_at or now
    ticket.call_count += 1
    ticket.serving_at = None
    _set_status(session, ticket, CALL, actor, now=now, details=details)


def _not_waiting_message(session: Session, ticket: Ticket) -> str:
    if ticket.status in HELD and ticket.counter_id:
        counter = session.get(Counter, ticket.counter_id)
        return f"Ticket {ticket.number} was already called to counter {counter.name if counter else '?'}."
    return f"Ticket {ticket.number} is {ticket.status.replace('_', '-')}, not waiting."


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# -- transitions --------------------------------------------------------------------------------------


def _set_status(
    session: Session,
    ticket: Ticket,
    rule: Transition,
    actor: Principal,
    *,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Move the ticket along `rule` (already checked), then write its event and the staff's audit entry."""
    event = rule.event
    if rule.apply is not None:
        details = {**(rule.apply(ticket, now) or {}), **(details or {})} or None
    ticket.status = rule.target
    db_flags.note_load_changed(session)
    if rule.target in FINISHED:
        ticket.finished_at = now
    session.flush()
    data = ticket_event_data(session, ticket)
    record_event(session, event, data, branch_id=ticket.branch_id)
    if actor.staff is not None:
        audit(
            session,
            actor=actor,
            action=event,
            ticket_id=ticket.id,
            details={"counter_id": ticket.counter_id, **(details or {})},
        )
    logger.info("%s %s (counter %s) by %s", event, ticket.number, data["counter_name"], actor.label)


def transition(session: Session, *, ticket_id: int, action: Action, actor: Principal) -> Ticket:
    """recall | start | complete | no-show | requeue | cancel (staff)."""
    actor.require_staff()
    if action == "transfer":
        raise ValidationFailed("A transfer needs a target service (POST …/transfer).")
    ticket = get_ticket(session, ticket_id, lock=True)
    rule = check_allowed(ticket, action)
    _set_status(session, ticket, rule, actor, now=clock.utcnow())
    return ticket


def cancel_by_customer(session: Session, *, tracking_token: str) -> Ticket:
    """The customer says "I'm leaving" from the tracking page."""
    ticket = get_by_tracking_token(session, tracking_token)
    if ticket.status == TicketStatus.cancelled:
        return ticket
    rule = check_allowed(ticket, "cancel")
    _set_status(session, ticket, rule, Principal(), now=clock.utcnow(), details={"by": "customer"})
    return ticket


def transfer(session: Session, *, ticket_id: int, service_id: int, actor: Principal, to_end: bool = False) -> Ticket:
    """Send an open ticket to another service's queue. It keeps its number and, unless `to_end`, its place."""
    actor.require_staff()
    ticket = get_ticket(session, ticket_id, lock=True)
    rule = check_allowed(ticket, "transfer")
    target = get_service(session, service_id)
    if target.branch_id != ticket.branch_id:
        raise ValidationFailed("A ticket can only move to a service of its own branch.")
    if target.id == ticket.service_id and ticket.status == TicketStatus.waiting:
        raise InvalidTransition(f"Ticket {ticket.number} is already waiting for {target.name}.")
    if not target.active:
        raise Conflict(f"{target.name} is not taking tickets right now.")
    now = clock.utcnow()
    from_service, from_counter = ticket.service_id, ticket.counter_id
    ticket.service_id = target.id
    ticket.counter_id = None
    ticket.serving_at = None
    ticket.transfer_count += 1
    if to_end:
        ticket.queue_at = now
    _set_status(
        session,
        ticket,
        rule,
        actor,
        now=now,
        details={"from_service_id": from_service, "from_counter_id": from_counter, "to_end": to_end},
    )
    return ticket


# -- queue snapshot ------------------------------------------------------------------------------------


def queue_snapshot(
    session: Session, *, settings: Settings, branch_id: int | None = None, staff_names: bool = True
) -> dict[str, Any]:
    """Everything a screen needs to draw the queue, plus the event id to follow changes from (`staff_names`:
    see `counter_public`)."""
    from wins.events.service import last_event_id
    from wins.services.service import service_public

    # Read the event id first: any change after it is replayed by the stream, so nothing is missed.
    last_id = last_event_id(session)
    branch: Branch = get_branch(session, branch_id)
    day = today(branch)
    now = clock.utcnow()
    waiting = session.scalars(
        select(Ticket)
        .where(Ticket.branch_id == branch.id, Ticket.business_day == day, Ticket.status == TicketStatus.waiting)
        .order_by(Ticket.priority.desc(), Ticket.queue_at, Ticket.id)
    ).all()
    services = session.scalars(
        select(Service).where(Service.branch_id == branch.id).order_by(Service.sort_order, Service.id)
    ).all()
    by_service: dict[int, list[Ticket]] = {s.id: [] for s in services}
    for t in waiting:
        by_service.setdefault(t.service_id, []).append(t)
    served_today = dict(
        session.execute(
            select(Ticket.service_id, func.count())
            .where(Ticket.branch_id == branch.id, Ticket.business_day == day, Ticket.status == TicketStatus.done)
            .group_by(Ticket.service_id)
        ).all()
    )
    service_rows = []
    for s in services:
        tickets = by_service.get(s.id, [])
        load = service_load(session, s.id, settings=settings)
        service_rows.append(
            {
                **service_public(s),
                "waiting_count": len(tickets),
                "served_today": served_today.get(s.id, 0),
                "longest_wait_seconds": int((now - min(t.issued_at for t in tickets)).total_seconds())
                if tickets
                else 0,
                "mean_service_seconds": round(load.mean_service_seconds),
                "open_counters": load.open_counters,
                "tickets": [
                    {
                        "id": t.id,
                        "number": t.number,
                        "priority": t.priority,
                        "issued_at": t.issued_at.isoformat(),
                        "queue_at": t.queue_at.isoformat(),
                        "position": i + 1,
                        "estimated_wait_seconds": est.estimate_for(i, load).seconds,
                        "waited_seconds": int((now - t.issued_at).total_seconds()),
                        "transfer_count": t.transfer_count,
                    }
                    for i, t in enumerate(tickets)
                ],
            }
        )
    counters = session.scalars(select(Counter).where(Counter.branch_id == branch.id).order_by(Counter.id)).all()
    held = {
        t.counter_id: t
        for t in session.scalars(
            select(Ticket).where(Ticket.counter_id.is_not(None), IS_HELD, Ticket.branch_id == branch.id)
        )
    }
    counter_rows = []
    for c in counters:
        held_ticket = held.get(c.id)
        counter_rows.append(
            {
                **counter_public(session, c, staff_names=staff_names),
                "ticket": ticket_event_data(session, held_ticket) if held_ticket else None,
            }
        )
    recent = session.scalars(
        select(Ticket)
        .where(Ticket.branch_id == branch.id, Ticket.business_day == day, Ticket.called_at.is_not(None))
        .order_by(Ticket.called_at.desc())
        .limit(10)
    ).all()
    return {
        "branch": {"id": branch.id, "name": branch.name, "timezone": branch.timezone, "business_day": day.isoformat()},
        "services": service_rows,
        "counters": counter_rows,
        "recent_calls": [ticket_event_data(session, t) for t in recent],
        "waiting_total": len(waiting),
        "last_event_id": last_id,
        "generated_at": now.isoformat(),
    }
