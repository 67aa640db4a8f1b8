"""The one lock order of every path that changes who sits where (issue 15's deadlock; docs/architecture.md,
"Lock order"):

1. the person's `staff_users` row (`lock_person`): it serialises one person's seat changes, so the counters they
   sit at cannot change under them (only their own requests seat them; others can only take a seat away);
2. counter rows, all of them at once, in id order (`lock_counters`);
3. ticket rows (held tickets in id order, then the ticket a call takes);
4. event rows, and PostgreSQL's event-order lock, last (wins.events.service).

Nothing takes an earlier kind of lock while it holds a later one. SQLite has no row locks: its writers are serial
(`BEGIN IMMEDIATE`), and these statements are plain reads there.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wins.counters.models import Counter
from wins.errors import NotFound
from wins.staff.models import StaffUser


def lock_person(session: Session, staff_id: int) -> None:
    """Lock a person's staff row before any counter (step 1). NO KEY UPDATE: it does not block the key-share
    locks of foreign-key checks (a ticket or audit row that names this person), only another seat change."""
    session.execute(select(StaffUser.id).where(StaffUser.id == staff_id).with_for_update(key_share=True))


def lock_counters(session: Session, ids: set[int]) -> dict[int, Counter]:
    """Lock these counter rows, in id order, in one statement, and read them afresh (step 2)."""
    rows = session.scalars(
        select(Counter)
        .where(Counter.id.in_(ids))
        .order_by(Counter.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    found = {c.id: c for c in rows}
    missing = ids - set(found)
    if missing:
        raise NotFound(f"Counter {min(missing)} does not exist.")
    return found


def lock_seats(session: Session, staff_id: int, *also: int | None) -> dict[int, Counter]:
    """Steps 1 and 2 for a seat change: lock the person, then every counter they sit at and `also`, in id order.
    With the person locked their set of seats can only shrink (someone taking a counter over), never grow, so
    one read of it is enough and no counter lock is ever taken while waiting for a second round."""
    lock_person(session, staff_id)
    mine = set(session.scalars(select(Counter.id).where(Counter.staff_id == staff_id)))
    return lock_counters(session, mine | {i for i in also if i is not None})
