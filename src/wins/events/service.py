"""Append events to the log. Called by every service that changes state, inside its transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, case, insert, or_, select, text
from sqlalchemy.orm import Session

from wins import db_flags
from wins.events.models import Event

# PostgreSQL: the trigger `events_position` (migration 0008) draws each event's id and sends this NOTIFY, which
# PostgreSQL delivers to every listening worker only after commit. Writers take no lock for the order: readers
# only return event ids that are final ("settled", below), see docs/architecture.md, "Event order".
# SQLite needs nothing: its write transactions are serial, so ids become visible in increasing order.
NOTIFY_CHANNEL = "wins_events"


def record_event(session: Session, type: str, data: dict[str, Any], *, branch_id: int | None) -> Event:
    event = Event(type=type, data=data, branch_id=branch_id)
    session.add(event)
    session.flush()
    db_flags.note_events_written(session)
    return event


# Internal events tell the server's own event streams, on every worker and host, that a sign-in ended (device
# revoked or given a new token, account deactivated, password changed, web session signed out). They travel
# through the event log like any change, so they reach every process, but no subscriber ever receives them
# (wins.events.api filters them out). They hold ids only, never a token or anything that grants access.
INTERNAL_PREFIX = "auth."
SIGN_IN_ENDED = "auth.ended"


def record_sign_in_ended(
    session: Session, *, staff_id: int | None = None, device_id: int | None = None, session_key: str | None = None
) -> None:
    """Close the event streams of a staff account (all its sign-ins, or only the web session `session_key`) or
    of a device. Part of the caller's transaction: nothing is closed if it rolls back."""
    data: dict[str, Any] = {}
    if staff_id is not None:
        data["staff_id"] = staff_id
    if device_id is not None:
        data["device_id"] = device_id
    if session_key is not None:
        data["session"] = session_key
    record_event(session, SIGN_IN_ENDED, data, branch_id=None)


# `record_event` as one Core INSERT, for hot paths that need no Event object back (wins.tickets.issuing).
# They pass every column and call db_flags.note_events_written themselves.
APPEND_EVENT = insert(Event)
EVENT_COLUMNS = ["at", "type", "data", "branch_id"]


# -- reading: only settled ids ------------------------------------------------------------------------
# On PostgreSQL ids are drawn at insert and transactions commit in any order, so a reader must not return an id
# while a smaller one may still be committed. An event is *settled* in a snapshot when every transaction with an
# id below its `horizon_xid` has ended (horizon <= the snapshot's xmin): then every event with a smaller id is
# final too (committed and visible, or never to appear). A reader returns the events up to the last settled one
# it sees and holds back the rest until a later read. The proof: docs/architecture.md, "Event order".
EVENTS = Event.__table__
_EVENT_FIELDS = (EVENTS.c.id, EVENTS.c.type, EVENTS.c.at, EVENTS.c.branch_id, EVENTS.c.data)
# The snapshot's xmin, counting only transactions that may belong to this database: PostgreSQL's xmin counts
# every database of the cluster, and a long transaction in another one (a big restore, a test run next door)
# would hold our screens back for nothing. Running transactions are the snapshot's xip list; one that
# pg_stat_activity shows in another database is left out (a backend never changes database); any other,
# including one pg_stat_activity has not caught up with, counts (the safe side). Evaluated once per query.
_OWN_XMIN = text(
    """(SELECT coalesce(min(x), pg_snapshot_xmax(pg_current_snapshot()))
        FROM pg_snapshot_xip(pg_current_snapshot()) AS x
        WHERE x::text::bigint % 4294967296 NOT IN (
            SELECT backend_xid::text::bigint FROM pg_stat_activity
            WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database()))"""
)
_SETTLED = or_(EVENTS.c.horizon_xid.is_(None), EVENTS.c.horizon_xid <= _OWN_XMIN)


# The same columns, but `at` and `data` only for internal events (NULL for the others): for a reader that only
# needs to know how far the log has gone and what internal events it holds (wins.events.hub, while no one in its
# process needs the events themselves), without fetching and decoding every event's body.
_INTERNAL = EVENTS.c.type.startswith(INTERNAL_PREFIX)
_SKIM_FIELDS = (
    EVENTS.c.id,
    EVENTS.c.type,
    case((_INTERNAL, EVENTS.c.at), else_=None).label("at"),
    EVENTS.c.branch_id,
    case((_INTERNAL, EVENTS.c.data), else_=None).label("data"),
)


# Built once, with bound `since` and `limit`: the hub runs these after every few commits, and building the query
# each time made SQLAlchemy derive its cache key each time (most of a read's Python cost). Keyed by `bodies`.
def _after(fields: tuple[Any, ...]) -> Any:
    return select(*fields).where(EVENTS.c.id > bindparam("since")).order_by(EVENTS.c.id).limit(bindparam("limit"))


_AFTER = {True: _after(_EVENT_FIELDS), False: _after(_SKIM_FIELDS)}
_SETTLED_AFTER = {bodies: query.add_columns(_SETTLED.label("settled")) for bodies, query in _AFTER.items()}


def settled_after(conn: Connection | Session, since: int, *, limit: int, bodies: bool = True) -> tuple[list[Any], bool]:
    """Committed events with id > since whose ids are final, oldest first (at most `limit`), as rows of
    (with id, type, at, branch_id, data); and whether newer committed events were held back (their order is not
    final yet: a transaction that may still commit a smaller id is running; read again shortly).
    `bodies=False`: `at` and `data` are None except for internal events (see _SKIM_FIELDS)."""
    values = {"since": since, "limit": limit}
    if _dialect(conn) != "postgresql":
        return list(conn.execute(_AFTER[bodies], values).all()), False
    rows = conn.execute(_SETTLED_AFTER[bodies], values).all()
    last = max((i for i, row in enumerate(rows) if row.settled), default=-1)
    return list(rows[: last + 1]), last + 1 < len(rows)


def last_event_id(session: Session | Connection) -> int:
    """The newest event id a reader may start after: every event up to it is final (committed or never), so a
    snapshot drawn after reading it shows all of them, and the stream from it brings all later ones."""
    query = select(EVENTS.c.id).order_by(EVENTS.c.id.desc()).limit(1)
    if _dialect(session) == "postgresql":
        query = query.where(_SETTLED)
    return session.execute(query).scalar() or 0


def _dialect(conn: Connection | Session) -> str:
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    return bind.dialect.name
