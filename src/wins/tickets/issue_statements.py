"""Issuing's statements (wins.tickets.issuing runs them): on SQLite a few small ones in one transaction, on
PostgreSQL a single one. Built once with SQLAlchemy Core; precompiled for the paths that skip SQLAlchemy at run
time (a bare sqlite3 connection, a psycopg connection on the event loop).

The day's numbering: the per-service-per-day row of `ticket_sequences`, bumped atomically by an upsert that
hands out the number and returns the queue lengths (never max()+1); a unique constraint (service, day, seq)
backs it."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import JSON, Table, Text, bindparam, exists, func, literal_column, null, select, true
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

# The tables the tickets' foreign keys point to: loaded first, so those columns have their types (not NullType)
# when the statements below are built and compiled (PostgreSQL casts each parameter to its column's type).
import wins.branches.models
import wins.counters.models
import wins.devices.models
import wins.services.models
import wins.staff.models  # noqa: F401
from wins.audit.models import AuditEntry
from wins.db import LoopStatement, RawStatement
from wins.events.service import APPEND_EVENT, EVENT_COLUMNS, EVENTS
from wins.tickets.queue_counts import SEQUENCES, TICKETS

# -- the ticket's number: the one rule, in Python and in SQL ---------------------------------------------------
NUMBER_DIGITS = 3  # A001 … A999, then A1000


def ticket_number(prefix: str, seq: int) -> str:
    return f"{prefix}{seq:0{NUMBER_DIGITS}d}"


def _number_digits(seq: Any) -> ColumnElement[Any]:
    """`ticket_number`'s digits in SQL (PostgreSQL), for the statement that draws the number itself;
    tests/test_express_pg.py checks both agree."""
    digits = sql_cast(seq, Text)
    return func.lpad(
        digits, func.greatest(literal_column(str(NUMBER_DIGITS)), func.length(digits)), literal_column("'0'")
    )


# -- SQLite: look-up, number, ticket, event (and audit), one statement each --------------------------------------
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


NEXT_NUMBER = _upsert_sequence("sqlite")
INSERT_TICKET = TICKETS.insert().returning(TICKETS.c.id)
BY_KEY = select(TICKETS.c.id, TICKETS.c.issued_service_id).where(
    TICKETS.c.idempotency_scope == bindparam("scope"), TICKETS.c.idempotency_key == bindparam("key")
)
TICKET_COLUMNS = [
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
AUDIT = cast(Table, AuditEntry.__table__).insert()
AUDIT_COLUMNS = ["at", "staff_id", "device_id", "action", "ticket_id", "details"]
# The same statements, compiled once for a bare sqlite3 connection (Database.raw_sqlite_write).
RAW = {
    "by_key": RawStatement(BY_KEY),
    "next_number": RawStatement(NEXT_NUMBER),
    "insert_ticket": RawStatement(INSERT_TICKET, columns=TICKET_COLUMNS),
    "event": RawStatement(APPEND_EVENT, columns=EVENT_COLUMNS),
    "audit": RawStatement(AUDIT, columns=AUDIT_COLUMNS),
}


# -- PostgreSQL: the whole tap in one statement ----------------------------------------------------------------
# One round trip, and the `ticket_sequences` row stays locked for the time of one statement, not of a round trip
# to the client and back (with 16 taps of one service at once, that lock is the queue). Data-modifying CTEs:
#   prior   the ticket this Idempotency-Key already issued, if any (then nothing below runs);
#   number  the upsert that hands out the number and returns the queue lengths;
#   ticket  the ticket, its number formatted here (`_number_digits`), its id from its column's default;
#   event   its `ticket.issued` event. The event log's trigger (migration 0008) draws the event's id and horizon
#           and sends the NOTIFY, as for any event: the order rules of docs/architecture.md hold unchanged.
# The event's data is `ticket_payload`, built and serialised in Python (wins.tickets.issuing.NewTicket) with
# two gaps, the id and the number's digits, that only this statement knows: `data_head`, id, `data_mid`, digits,
# `data_tail`. Parameters: the ticket's columns by name (but seq, number), `prefix`, `prio` (0/1), `scope` and
# `key` (the look-up), `event_type` and the three data parts. Row: (id, issued_service_id, seq, waiting,
# waiting_priority); a replay has seq NULL, a new ticket issued_service_id NULL.
def _issue_statement() -> Any:
    def value(column: str) -> Any:
        return bindparam(column, type_=TICKETS.c[column].type)

    prior = select(TICKETS.c.id, TICKETS.c.issued_service_id).where(
        TICKETS.c.idempotency_scope == bindparam("scope", type_=TICKETS.c.idempotency_scope.type),
        TICKETS.c.idempotency_key == bindparam("key", type_=TICKETS.c.idempotency_key.type),
    )
    prior_cte = prior.cte("prior")
    upsert = postgresql.insert(SEQUENCES).from_select(
        ["service_id", "business_day", "last_seq", "waiting", "waiting_priority"],
        select(
            value("service_id"),
            value("business_day"),
            literal_column("1"),
            literal_column("1"),
            bindparam("prio", type_=SEQUENCES.c.waiting_priority.type),
        ).where(~exists(select(prior_cte.c.id))),
    )
    number = (
        upsert.on_conflict_do_update(
            index_elements=["service_id", "business_day"],
            set_={
                "last_seq": SEQUENCES.c.last_seq + literal_column("1"),
                "waiting": SEQUENCES.c.waiting + literal_column("1"),
                "waiting_priority": SEQUENCES.c.waiting_priority + upsert.excluded.waiting_priority,
            },
        )
        .returning(SEQUENCES.c.last_seq, SEQUENCES.c.waiting, SEQUENCES.c.waiting_priority)
        .cte("number")
    )
    digits = _number_digits(number.c.last_seq)
    columns = {
        **{column: value(column) for column in TICKET_COLUMNS},
        "seq": number.c.last_seq,
        "number": bindparam("prefix", type_=Text) + digits,
    }
    ticket = (
        TICKETS.insert()
        .from_select(TICKET_COLUMNS, select(*(columns[c] for c in TICKET_COLUMNS)).select_from(number))
        .returning(TICKETS.c.id)
        .cte("ticket")
    )
    data = func.concat(
        bindparam("data_head", type_=Text),
        ticket.c.id,
        bindparam("data_mid", type_=Text),
        digits,
        bindparam("data_tail", type_=Text),
    )
    event = (
        cast(Table, EVENTS)
        .insert()
        .from_select(
            ["at", "type", "data", "branch_id"],
            select(
                value("issued_at"),
                bindparam("event_type", type_=EVENTS.c.type.type),
                sql_cast(data, JSON),
                value("branch_id"),
            ).select_from(ticket.join(number, true())),
        )
        .cte("event")
    )
    return (
        select(prior_cte.c.id, prior_cte.c.issued_service_id, null(), null(), null())
        .union_all(
            select(ticket.c.id, null(), number.c.last_seq, number.c.waiting, number.c.waiting_priority).select_from(
                ticket.join(number, true())
            )
        )
        .add_cte(event)
    )


ISSUE = _issue_statement()
ISSUE_ON_LOOP = LoopStatement(ISSUE)  # the same, compiled once for the express lane's connections
