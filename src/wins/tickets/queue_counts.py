"""Queue lengths kept beside the day's numbering: `ticket_sequences.waiting` / `waiting_priority` count the waiting
tickets per service and business day, so a new ticket's place needs no COUNT over the queue. Issuing bumps them in
its own upsert (wins.tickets.issuing); the listeners here keep them in step with every other change of a ticket."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from wins import db_flags
from wins.db import WinsSession
from wins.tickets.models import Ticket, TicketSequence, TicketStatus

# -- queue lengths ---------------------------------------------------------------------------------------
# ticket_sequences.waiting / waiting_priority count the waiting tickets per service and day. Issuing bumps them
# in its own upsert; every other change goes through ORM objects, and these listeners keep the counts in step:
# before each flush they note which (service, day) queues a ticket left or joined, and just before commit they
# apply the sums. Applying at commit keeps the lock order of every writer the same on PostgreSQL: the event-order
# lock (taken by the first event) first, then sequence rows, in key order.
SEQUENCES = cast(Table, TicketSequence.__table__)  # also the day's numbering (wins.tickets.issuing)
TICKETS = cast(Table, Ticket.__table__)
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
    stmt = insert(SEQUENCES).values(
        service_id=bindparam("service_id"),
        business_day=bindparam("day"),
        last_seq=0,
        waiting=bindparam("d"),
        waiting_priority=bindparam("dp"),
    )
    table = SEQUENCES
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
