"""Append events to the log. Called by every service that changes state, inside its transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from wins import db_flags
from wins.events.models import Event
from wins.schemas import EventPublic, fields_of

# Held from the first event of a transaction until its commit (PostgreSQL only). It makes event ids
# commit in increasing order, so a reader that has seen id N can never later find a smaller id appear.
# SQLite needs nothing: its write transactions are already serial.
EVENT_ORDER_LOCK = 0x57494E53  # "WINS"
NOTIFY_CHANNEL = "wins_events"


_ORDER_AND_NOTIFY = text("SELECT pg_advisory_xact_lock(:key), pg_notify(:channel, '')")


def take_event_order(session: Session) -> None:
    """Before the first event of a transaction (PostgreSQL): the event-order lock, and a NOTIFY for commit."""
    if db_flags.has_event_lock(session) or session.get_bind().dialect.name != "postgresql":
        return
    # One round trip: the lock, then the NOTIFY (transactional: PostgreSQL delivers it to every listening
    # worker only after commit).
    session.execute(_ORDER_AND_NOTIFY, {"key": EVENT_ORDER_LOCK, "channel": NOTIFY_CHANNEL})
    db_flags.note_event_lock(session)


def record_event(session: Session, type: str, data: dict[str, Any], *, branch_id: int | None) -> Event:
    take_event_order(session)
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
# They pass every column; take_event_order must have run in the transaction first (PostgreSQL), and they call
# db_flags.note_events_written themselves.
APPEND_EVENT = insert(Event)
EVENT_COLUMNS = ["at", "type", "data", "branch_id"]


def event_public(event: Event) -> dict[str, Any]:
    return fields_of(EventPublic, event, at=event.at.isoformat())


def events_after(session: Session, since: int, *, limit: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(Event).where(Event.id > since).order_by(Event.id).limit(limit))
    return [event_public(e) for e in rows]


def last_event_id(session: Session) -> int:
    return session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0
