"""End of day: every ticket of an ended business day that still waits, or is called or served, becomes `expired`
with a `ticket.expired` event (so staff queues, displays and the customer's phone drop it), and the queue counts
(`ticket_sequences.waiting`) follow.

A business day ends at the branch's rollover hour, or earlier at its optional closing time (branch setting
`closing_time`: tickets issued before it expire then; one issued after it, staff working late, at the rollover).

Who runs it: every server process checks every WINS_DAY_CHECK_SECONDS (`watch_days`, started in the app's lifespan; the
first check at start-up, so a server that was off overnight expires yesterday's leftovers at once), a manager's
change of the rollover hour, time zone or closing time (`wins.branches.service.update_branch`, in its transaction),
and `wins expire-day` (cron, ops).

Exactly once, however many run at the same moment on however many hosts: each ticket is taken by a conditional
UPDATE … WHERE status IN (waiting, called, serving) … RETURNING, and only the rows an UPDATE returns get an event.
PostgreSQL's row locks let one of two concurrent UPDATEs take a row; the other re-reads it after the first commits,
finds it expired and leaves it out. A per-branch advisory lock serialises concurrent runners first (so two
UPDATEs never lock rows in opposite orders and deadlock); then rows, then the event-order lock, the order every
writer keeps. SQLite writers are serial anyway (BEGIN IMMEDIATE).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select, text
from sqlalchemy.orm import Session

from wins import clock, db_flags
from wins.branches.models import Branch
from wins.branches.service import branch_settings
from wins.counters.models import Counter
from wins.db import Database
from wins.events.service import APPEND_EVENT
from wins.services.models import Service
from wins.tickets.models import TicketStatus
from wins.tickets.queue_counts import TICKETS
from wins.tickets.states import EXPIRE
from wins.tickets.views import ticket_payload

logger = logging.getLogger("wins.tickets.expiry")

_EXPIRY_LOCK = 0x57494E45  # "WINE": with the branch id, serialises concurrent runners on PostgreSQL
_OPEN = tuple(s.value for s in EXPIRE.sources)


@dataclass(frozen=True)
class DayEnd:
    """Which of a branch's tickets have ended: any of a business day before `today`, and of `today` those
    issued before `closed_at` (when the branch's closing time has passed)."""

    today: date
    closed_at: datetime | None


def day_end(branch: Branch, now: datetime) -> DayEnd:
    today = clock.business_day(now, timezone=branch.timezone, rollover_hour=branch.day_rollover_hour)
    closing = branch_settings(branch).closing_time
    if closing is None:
        return DayEnd(today, None)
    hour, minute = (int(part) for part in closing.split(":"))
    # The business day `today` runs from its rollover hour to the next day's; the closing time falls inside it.
    minutes = hour * 60 + minute
    calendar_day = today if minutes >= branch.day_rollover_hour * 60 else today + timedelta(days=1)
    closed_at = datetime.combine(calendar_day, time(0), tzinfo=ZoneInfo(branch.timezone)) + timedelta(minutes=minutes)
    return DayEnd(today, closed_at if now >= closed_at else None)


def _ended(branch_id: int, end: DayEnd) -> Any:
    t = TICKETS.c
    day = t.business_day < end.today
    if end.closed_at is not None:
        day = or_(day, and_(t.business_day == end.today, t.issued_at < end.closed_at))
    return and_(t.branch_id == branch_id, t.status.in_(_OPEN), day)


def expire_branch(session: Session, branch: Branch, *, now: datetime | None = None, reason: str = "end of day") -> int:
    """Expire the branch's tickets whose business day has ended, in the session's transaction; how many."""
    now = now or clock.utcnow()
    ended = _ended(branch.id, day_end(branch, now))
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k, :b)"), {"k": _EXPIRY_LOCK, "b": branch.id})
    t = TICKETS.c
    # Waiting ones first: they leave their queue's count (applied at commit, like every other change of a queue).
    expire = TICKETS.update().values(status=TicketStatus.expired.value, finished_at=now).returning(*TICKETS.c)
    taken = list(conn.execute(expire.where(ended, t.status == TicketStatus.waiting.value)).all())
    deltas = db_flags.queue_deltas(session)
    for row in taken:
        delta = deltas.setdefault((row.service_id, row.business_day), [0, 0])
        delta[0] -= 1
        delta[1] -= 1 if row.priority else 0
    taken += conn.execute(expire.where(ended)).all()
    if not taken:
        return 0
    services = dict(session.execute(select(Service.id, Service.name).where(Service.branch_id == branch.id)).all())
    counters = dict(session.execute(select(Counter.id, Counter.name).where(Counter.branch_id == branch.id)).all())
    conn.execute(
        APPEND_EVENT,
        [
            {
                "at": now,
                "type": EXPIRE.event,
                "branch_id": branch.id,
                "data": ticket_payload(
                    row, service_name=services.get(row.service_id), counter_name=counters.get(row.counter_id or 0)
                ),
            }
            for row in sorted(taken, key=lambda r: r.id)
        ],
    )
    db_flags.note_events_written(session)
    days = sorted({row.business_day.isoformat() for row in taken})
    logger.info("%d open tickets of branch %s expired (%s; business days %s)", len(taken), branch.id, reason, days)
    return len(taken)


def has_ended_tickets(session: Session, branch: Branch, *, now: datetime) -> bool:
    """Whether expire_branch would do anything (a read, so an idle check never takes the write lock)."""
    return bool(session.scalar(select(exists().where(_ended(branch.id, day_end(branch, now))))))


def expire_ended_days(db: Database, *, now: datetime | None = None) -> int:
    """Expire every branch's ended tickets; one write transaction per branch that has some. How many."""
    now = now or clock.utcnow()
    with db.session(write=False) as read:
        due = [b.id for b in read.scalars(select(Branch).order_by(Branch.id)) if has_ended_tickets(read, b, now=now)]
    total = 0
    for branch_id in due:
        with db.session() as session:
            branch = session.get(Branch, branch_id)
            if branch is not None:
                total += expire_branch(session, branch, now=now)
    return total


def expire_now_logged(db: Database) -> None:
    """`expire_ended_days`, logging instead of raising (a busy or unreachable database: the next check retries)."""
    try:
        expire_ended_days(db)
    except Exception:
        logger.exception("end-of-day check failed; the next check retries")


async def watch_days(db: Database, *, every: float) -> None:
    """Run in each server process after its start-up check (wins.app): expire ended days every `every` s."""
    while True:
        await asyncio.sleep(every)
        await asyncio.to_thread(expire_now_logged, db)
