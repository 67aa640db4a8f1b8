"""Issuing a ticket (every kiosk tap): the checks, the day's numbering (one upsert on `ticket_sequences` that hands
out the number and returns the queue length), the ticket and its event. On SQLite a few Core statements, on
PostgreSQL one (wins.tickets.issue_statements); on both, also the event-loop path the express lane takes
(`issue_on_loop` on a bare sqlite3 connection, `issue_on_loop_pg` on a psycopg connection of the loop's pool).

Concurrency: numbers come from the per-service-per-day row, bumped atomically in the issuing transaction (never
max()+1); a unique constraint (service, day, seq) backs it. docs/performance.md has the figures."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Protocol

import anyio
from sqlalchemy.orm import Session

from wins import clock, db_flags
from wins.auth import Principal
from wins.branches.models import Branch
from wins.config import Settings
from wins.db import Database, LoopTransaction, LoopUnavailable, OutcomeUnknown, RawTransaction, StatementFailed
from wins.devices.kiosk import priority_categories
from wins.devices.models import DeviceKind
from wins.enums import Role
from wins.errors import Conflict, ValidationFailed
from wins.events.service import APPEND_EVENT
from wins.schemas import TicketCreate
from wins.services import hours
from wins.staff.security import new_tracking_token
from wins.tickets import estimate as est
from wins.tickets.caches import ServiceInfo, cached_service_info, cached_service_load, service_info, service_load
from wins.tickets.issue_statements import (
    AUDIT,
    BY_KEY,
    INSERT_TICKET,
    ISSUE,
    ISSUE_ON_LOOP,
    NEXT_NUMBER,
    RAW,
    ticket_number,
)
from wins.tickets.models import Ticket, TicketStatus
from wins.tickets.views import get_ticket, ticket_details, ticket_payload, ticket_view, wait_fields

logger = logging.getLogger("wins.tickets.service")  # the logger name operators know from before the split

ISSUED = "ticket.issued"


class IssueSql(Protocol):
    """Runs one of issuing's statements by name and returns its first row as a tuple (None if it has none).
    `one_statement`: PostgreSQL, where a tap is the one statement "issue" (and "audit" for staff); otherwise
    "by_key", "next_number", "insert_ticket", "event" and "audit"."""

    one_statement: bool

    def __call__(self, name: str, params: dict[str, Any]) -> Any: ...


class _SessionSql:
    """Issuing's statements through SQLAlchemy Core, in the session's transaction (any database)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.conn = session.connection()
        self.one_statement = self.conn.dialect.name == "postgresql"

    def __call__(self, name: str, params: dict[str, Any]) -> Any:
        statement = {
            "issue": ISSUE,
            "by_key": BY_KEY,
            "next_number": NEXT_NUMBER,
            "insert_ticket": INSERT_TICKET,
            "event": APPEND_EVENT,
            "audit": AUDIT,
        }[name]
        result = self.conn.execute(statement, params)
        row = result.first() if result.returns_rows else None
        if name in ("event", "audit") or (name == "issue" and row is not None and row[2] is not None):
            db_flags.note_events_written(self.session)
        return row


def session_sql(session: Session) -> IssueSql:
    """Issuing's statements through SQLAlchemy Core, in the session's transaction (any database)."""
    return _SessionSql(session)


class _RawSqliteSql:
    """Issuing's statements on a bare sqlite3 connection inside Database.raw_sqlite_write."""

    one_statement = False

    def __init__(self, transaction: RawTransaction) -> None:
        self.transaction = transaction

    def __call__(self, name: str, params: dict[str, Any]) -> Any:
        rows = RAW[name].execute(self.transaction.conn, params).fetchall()
        if name == "event":
            db_flags.note_events_written(self.transaction)
        return rows[0] if rows else None


def raw_sqlite_sql(transaction: RawTransaction) -> IssueSql:
    return _RawSqliteSql(transaction)


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


# Gaps left in the event's serialised data for what only the PostgreSQL statement knows (issue_statements.ISSUE).
_ID_GAP = "\x00id\x00"
_DIGITS_GAP = "\x00digits\x00"


@dataclass(frozen=True)
class NewTicket:
    """A tap's ticket as issuing decides it before the transaction, which hands out the rest: its number (and on
    PostgreSQL its id). The one place the new row, its event and the answer are built, whichever path runs."""

    service: ServiceInfo
    values: dict[str, Any]  # the row to write, all but seq and number

    def row(self, ticket_id: Any, seq: int, *, number: str | None = None) -> SimpleNamespace:
        """The ticket as written (no ORM object: docs/performance.md), for the shared payload builders."""
        number = ticket_number(self.service.prefix, seq) if number is None else number
        return SimpleNamespace(
            **self.values,
            id=ticket_id,
            seq=seq,
            number=number,
            counter_id=None,
            called_at=None,
            serving_at=None,
            finished_at=None,
            staff_id=None,
        )

    def columns(self, seq: int) -> dict[str, Any]:
        """The row to insert, once the number is known (SQLite)."""
        return {**self.values, "seq": seq, "number": ticket_number(self.service.prefix, seq)}

    def event(self, ticket_id: int, seq: int) -> dict[str, Any]:
        """Its `ticket.issued` event (SQLite; on PostgreSQL the statement writes it from `statement_params`)."""
        data = ticket_payload(self.row(ticket_id, seq), service_name=self.service.name, counter_name=None)
        return {"at": self.values["issued_at"], "type": ISSUED, "data": data, "branch_id": self.service.branch_id}

    def statement_params(self) -> dict[str, Any]:
        """The parameters of issue_statements.ISSUE: the row, the look-up, and the event's data serialised here
        around the id and the number's digits, which the statement fills in."""
        gapped = self.row(_ID_GAP, 0, number=self.service.prefix + _DIGITS_GAP)
        text = json.dumps(ticket_payload(gapped, service_name=self.service.name, counter_name=None))
        head, found_id, rest = text.partition(json.dumps(_ID_GAP))
        mid, found_digits, tail = rest.partition(json.dumps(_DIGITS_GAP)[1:-1])
        if not (found_id and found_digits):
            raise AssertionError("ticket_payload must hold the ticket's id, then its number")
        return {
            **self.values,
            "prefix": self.service.prefix,
            "prio": int(self.values["priority"]),
            "scope": self.values["idempotency_scope"],
            "key": self.values["idempotency_key"],
            "event_type": ISSUED,
            "data_head": head,
            "data_mid": mid,
            "data_tail": tail,
        }

    def issued(self, ticket_id: int, seq: int, waiting: int, waiting_priority: int) -> Issued:
        row = self.row(ticket_id, seq)
        data = ticket_payload(row, service_name=self.service.name, counter_name=None)
        # A new ticket needs no arrival check-in yet: a remote join sets that after issuing (wins.tickets.arrival).
        data = {**data, **ticket_details(row), "arrival": None, "checkin_deadline": None}
        # Everyone waiting is ahead of a new ticket; of a new priority ticket, only the priority ones.
        people_ahead = (waiting_priority if self.values["priority"] else waiting) - 1
        return Issued(ticket_id, True, data, people_ahead=people_ahead)


def new_ticket(
    service: ServiceInfo,
    *,
    actor: Principal,
    priority: bool,
    idempotency_key: str | None,
    language: str | None,
    priority_category: str | None = None,
    channel: str | None = None,
) -> NewTicket:
    """The new ticket's row, after `check_issue`. `channel` (kiosk, staff, remote) defaults to who issues."""
    now = clock.utcnow()
    values: dict[str, Any] = {
        "branch_id": service.branch_id,
        "service_id": service.id,
        "issued_service_id": service.id,
        "business_day": clock.business_day(now, timezone=service.timezone, rollover_hour=service.rollover_hour),
        "priority": priority,
        "priority_category": priority_category,
        "status": TicketStatus.waiting.value,
        "tracking_token": new_tracking_token(),
        "idempotency_key": idempotency_key,
        "idempotency_scope": idempotency_scope(actor) if idempotency_key is not None else None,
        "language": language,
        "issued_at": now,
        "queue_at": now,
        "call_count": 0,
        "transfer_count": 0,
        "issued_by_device_id": actor.device.id if actor.device else None,
        "issued_by_staff_id": actor.staff.id if actor.staff else None,
        "channel": channel or ("staff" if actor.staff is not None else "kiosk"),
    }
    return NewTicket(service, values)


def _replay(service: ServiceInfo, ticket_id: int, issued_service_id: int) -> Issued:
    """A repeated Idempotency-Key: the first ticket, if it was for this service."""
    if issued_service_id != service.id:
        raise Conflict("This Idempotency-Key was already used for another service; send a new key.")
    return Issued(ticket_id, False, {})


def _log_issued(issued: Issued, service: ServiceInfo, actor: Principal) -> None:
    logger.info("ticket %s issued for %s by %s", issued.data["number"], service.name, actor.label)


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
    ticket = new_ticket(
        service,
        actor=actor,
        priority=priority,
        idempotency_key=idempotency_key,
        language=language,
        priority_category=priority_category,
        channel=channel,
    )
    if sql.one_statement:  # PostgreSQL: the look-up, the number, the ticket and its event in one statement
        ticket_id, issued_service_id, seq, waiting, waiting_priority = sql("issue", ticket.statement_params())
        if seq is None:
            return _replay(service, ticket_id, issued_service_id)
    else:
        if idempotency_key is not None:
            existing = sql("by_key", {"scope": ticket.values["idempotency_scope"], "key": idempotency_key})
            if existing is not None:
                return _replay(service, *existing)
        seq, waiting, waiting_priority = sql(
            "next_number", {"service_id": service.id, "day": ticket.values["business_day"], "prio": int(priority)}
        )
        (ticket_id,) = sql("insert_ticket", ticket.columns(seq))
        sql("event", ticket.event(ticket_id, seq))
    issued = ticket.issued(ticket_id, seq, waiting, waiting_priority)
    if service.hours is not None and service.hours.stop_when_wait_exceeds_time_left and load is not None:
        # Refused after the fact: the caller's transaction rolls back the number, the ticket and its event.
        _check_time_left(service, ticket.values["issued_at"], est.estimate_for(issued.people_ahead, load).seconds)
    if actor.staff is not None:
        sql(
            "audit",
            {
                "at": ticket.values["issued_at"],
                "staff_id": actor.staff.id,
                "device_id": None,
                "action": "ticket.issue",
                "ticket_id": ticket_id,
                "details": {},
            },
        )
    _log_issued(issued, service, actor)
    return issued


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
    info, load = _cached_service(db, body.service_id, settings) or _read_service(db, body.service_id, settings)
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


def _cached_service(db: Database, service_id: int, settings: Settings) -> tuple[ServiceInfo, est.ServiceLoad] | None:
    url = db.read_engine.url
    info = cached_service_info(url, service_id)
    load = cached_service_load(url, service_id, settings=settings)
    return (info, load) if info is not None and load is not None else None


def _read_service(db: Database, service_id: int, settings: Settings) -> tuple[ServiceInfo, est.ServiceLoad]:
    with db.session(write=False) as read:
        return service_info(read, service_id), service_load(read, service_id, settings=settings)


# Reads of a service's facts and load in flight on the loop, by (database, service, settings, loop).
_reading: dict[tuple[Any, int, int, int], asyncio.Task[tuple[ServiceInfo, est.ServiceLoad]]] = {}


async def _read_service_once(db: Database, service_id: int, settings: Settings) -> tuple[ServiceInfo, est.ServiceLoad]:
    """`_read_service` in the thread pool (a round trip must not hold the loop), once for all the taps that find
    the cache empty at the same moment: 16 taps in flight when it expires would otherwise read it 16 times."""
    loop = asyncio.get_running_loop()
    key = (db.read_engine.url, service_id, id(settings), id(loop))
    task = _reading.get(key)
    if task is None:
        task = loop.create_task(anyio.to_thread.run_sync(_read_service, db, service_id, settings))
        _reading[key] = task

        def done(finished: asyncio.Task[Any]) -> None:
            _reading.pop(key, None)
            if not finished.cancelled():
                finished.exception()  # retrieved, even if every tap that waited for it has gone

        task.add_done_callback(done)
    return await asyncio.shield(task)


async def issue_on_loop_pg(
    db: Database, settings: Settings, actor: Principal, body: TicketCreate, idempotency_key: str | None
) -> tuple[dict[str, Any], bool] | None:
    """The hottest route on PostgreSQL, for the express lane: the checks and the wait estimate from the
    per-process caches (read in the thread pool when one misses), then the tap as the one statement of
    `issue_with` (issue_statements.ISSUE), in its own transaction on a connection of the process's loop pool
    (Database.loop_pool): one round trip, no thread hop, no SQLAlchemy at run time.

    None: the caller hands the request to the route, and nothing was written. That is a staff tap (its audit
    entry belongs in the same transaction), a service that refuses a ticket whose wait passes its closing time
    (decided once the number is drawn), a repeated Idempotency-Key (the route reads the first ticket back), a
    statement PostgreSQL refused (two taps with one key at once: the route then finds the first one's ticket),
    or no connection. Raises OutcomeUnknown when the connection broke with the statement in flight and nothing
    can tell later whether it committed: the answer is then the route's for an unreachable database. With an
    Idempotency-Key the route can tell (its look-up finds the ticket, or the unique key stops a second one)."""
    pool = db.loop_pool
    if pool is None:
        return None
    may_issue(actor)
    if actor.staff is not None:
        return None
    info, load = _cached_service(db, body.service_id, settings) or await _read_service_once(
        db, body.service_id, settings
    )
    key = check_issue(info, actor=actor, priority=body.priority, idempotency_key=idempotency_key)
    if info.hours is not None and info.hours.stop_when_wait_exceeds_time_left:
        return None
    ticket = new_ticket(info, actor=actor, priority=body.priority, idempotency_key=key, language=body.language)
    try:
        row = await pool.fetchone(ISSUE_ON_LOOP, ticket.statement_params())
    except (LoopUnavailable, StatementFailed) as exc:
        logger.debug("issue on the loop handed to the route: %s", exc)
        return None
    except OutcomeUnknown:
        if key is not None:
            return None
        raise
    if row is None or row[2] is None:  # a repeated key: the route answers with the first ticket
        return None
    ticket_id, _, seq, waiting, waiting_priority = row
    committed = LoopTransaction()
    db_flags.note_events_written(committed)
    db.run_after_commit_hooks(committed)  # as a Session's commit: the hub wakes the streams, the followers theirs
    issued = ticket.issued(ticket_id, seq, waiting, waiting_priority)
    _log_issued(issued, info, actor)
    return new_ticket_view(issued, load), True
