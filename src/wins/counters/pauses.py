"""Pausing a counter with a reason (break, paperwork, other): while paused it takes no customers (call-next
refuses, the wait estimate leaves it out), the dashboard shows it, and each pause is kept as a row
(`CounterPause`) so the reports can add up paused time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from wins import clock, db_flags
from wins.audit.service import record_change
from wins.branches.service import get_branch, today
from wins.counters.models import Counter, CounterPause
from wins.counters.service import counter_event_data, end_pause, get_counter
from wins.enums import PauseReason, Role
from wins.errors import Conflict, PermissionDenied
from wins.events.service import record_event

if TYPE_CHECKING:
    from wins.auth import Principal


def _check_may_change(counter: Counter, actor: Principal) -> None:
    staff = actor.require_staff()
    if counter.staff_id != staff.id and Role(staff.role).rank < Role.manager.rank:
        raise PermissionDenied(
            f"Only the person at counter {counter.name} (or a manager) can pause or resume it. Choose your own "
            "counter first."
        )


def pause_counter(session: Session, counter_id: int, *, reason: PauseReason, actor: Principal) -> Counter:
    """Pause a counter someone sits at: it takes no customers until resumed (or left)."""
    counter = get_counter(session, counter_id, lock=True)
    if counter.staff_id is None:
        raise Conflict(f"Nobody sits at counter {counter.name}, so there is nothing to pause.")
    _check_may_change(counter, actor)
    if counter.paused_at is not None:
        raise Conflict(f"Counter {counter.name} is already paused ({counter.pause_reason}). Resume it first.")
    now = clock.utcnow()
    branch = get_branch(session, counter.branch_id)
    counter.paused_at = now
    counter.pause_reason = reason.value
    session.add(
        CounterPause(
            branch_id=counter.branch_id,
            counter_id=counter.id,
            staff_id=counter.staff_id,
            reason=reason.value,
            business_day=today(branch),
            started_at=now,
        )
    )
    _changed(session, counter)
    record_change(session, actor, "counter.pause", {"counter_id": counter.id, "reason": reason.value})
    return counter


def resume_counter(session: Session, counter_id: int, *, actor: Principal) -> Counter:
    """End a counter's pause: it takes customers again."""
    counter = get_counter(session, counter_id, lock=True)
    _check_may_change(counter, actor)
    if counter.paused_at is None:
        raise Conflict(f"Counter {counter.name} is not paused.")
    end_pause(session, counter, clock.utcnow())
    _changed(session, counter)
    record_change(session, actor, "counter.resume", {"counter_id": counter.id})
    return counter


def _changed(session: Session, counter: Counter) -> None:
    db_flags.note_load_changed(session)  # the wait estimates count open, unpaused counters
    session.flush()
    record_event(session, "counter.updated", counter_event_data(session, counter), branch_id=counter.branch_id)
