from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from wins import clock
from wins.audit.service import record_change
from wins.auth import Principal, check_branch
from wins.branches.service import get_branch
from wins.counters.locks import lock_seats
from wins.counters.models import Counter, CounterPause, CounterService
from wins.errors import Conflict, NotFound, ValidationFailed
from wins.events.service import record_event
from wins.schemas import CounterPublic, fields_of
from wins.services.models import Service
from wins.staff.models import Role, StaffUser
from wins.tickets.models import IS_HELD, Ticket


def list_counters(session: Session, *, branch_id: int | None = None, include_archived: bool = False) -> list[Counter]:
    """The branch's counters; archived ones only with `include_archived`."""
    branch = get_branch(session, branch_id)
    query = select(Counter).where(Counter.branch_id == branch.id).order_by(Counter.id)
    if not include_archived:
        query = query.where(Counter.archived_at.is_(None))
    return list(session.scalars(query))


def get_counter(session: Session, counter_id: int, *, lock: bool = False) -> Counter:
    query = select(Counter).where(Counter.id == counter_id)
    if lock:  # and fresh: an object already in the session is re-read from the locked row
        query = query.with_for_update().execution_options(
            populate_existing=True
        )  # PostgreSQL: one action at a time per counter (no-op on SQLite)
    counter = session.scalar(query)
    if counter is None:
        raise NotFound(f"Counter {counter_id} does not exist.")
    return counter


def _set_services(session: Session, counter: Counter, service_ids: list[int]) -> None:
    if len(set(service_ids)) != len(service_ids):
        raise ValidationFailed("A service is listed twice for this counter.")
    for service_id in service_ids:
        service = session.get(Service, service_id)
        if service is None or service.branch_id != counter.branch_id:
            raise ValidationFailed(f"Service {service_id} does not exist in this branch.")
        if service.archived_at is not None:
            raise ValidationFailed(f"{service.name} is archived; a counter cannot call it.")
    counter.service_links = [
        CounterService(service_id=service_id, position=position) for position, service_id in enumerate(service_ids)
    ]


def _check_name(session: Session, branch_id: int, name: str, *, exclude_id: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise ValidationFailed("A counter needs a name, like '3' or 'Desk 3'.")
    clash = session.scalar(select(Counter).where(Counter.branch_id == branch_id, Counter.name == name))
    if clash is not None and clash.id != exclude_id:
        raise Conflict(f"There is already a counter named {name!r}.")
    return name


def create_counter(
    session: Session, *, name: str, service_ids: list[int], branch_id: int | None = None, actor: Principal | None
) -> Counter:
    branch = get_branch(session, _in_branch(branch_id, actor))
    counter = Counter(branch_id=branch.id, name=_check_name(session, branch.id, name))
    session.add(counter)
    session.flush()
    _set_services(session, counter, service_ids)
    session.flush()
    record_event(session, "counter.created", counter_event_data(session, counter), branch_id=branch.id)
    record_change(session, actor, "counter.create", {"counter_id": counter.id})
    return counter


def update_counter(session: Session, counter_id: int, *, changes: dict[str, Any], actor: Principal | None) -> Counter:
    fields = sorted(changes)  # before any key is taken out
    counter = get_counter(session, counter_id, lock=True)
    check_branch(actor, counter.branch_id, Role.manager)
    if counter.archived_at is not None:
        raise Conflict(f"Counter {counter.name} is archived; restore it before changing it.")
    if "name" in changes:
        counter.name = _check_name(session, counter.branch_id, changes["name"], exclude_id=counter.id)
    if "active" in changes:
        counter.active = bool(changes["active"])
        held = session.scalar(select(Ticket.number).where(Ticket.counter_id == counter.id, IS_HELD))
        if not counter.active and held is not None:
            raise Conflict(
                f"Counter {counter.name} holds ticket {held}: switching it off would strand that customer. "
                "Complete, requeue or transfer the ticket first (the counter's workspace, or Stranded tickets "
                "on the dashboard), then switch the counter off."
            )
        if not counter.active:
            counter.staff_id = None
    if "service_ids" in changes:
        _set_services(session, counter, changes["service_ids"])
    session.flush()
    record_event(session, "counter.updated", counter_event_data(session, counter), branch_id=counter.branch_id)
    record_change(session, actor, "counter.update", {"counter_id": counter.id, "fields": fields})
    return counter


def open_counter(session: Session, counter_id: int, *, staff: StaffUser, actor: Principal | None) -> Counter:
    """Staff sit down at a counter: it counts as open for wait estimates and displays show who is there. The
    system's own tools (no rules about held tickets: the API and pages use wins.counters.seating)."""
    # The lock order (wins.counters.locks): the person, then every counter they leave and this one, in id order.
    counter = lock_seats(session, staff.id, counter_id)[counter_id]
    check_branch(actor, counter.branch_id)
    if counter.archived_at is not None:
        raise Conflict(f"Counter {counter.name} is archived; pick another counter.")
    if not counter.active:
        raise Conflict(f"Counter {counter.name} is switched off; an admin can switch it on.")
    seat_staff(session, counter, staff_id=staff.id)
    staff.last_counter_id = counter.id
    session.flush()
    record_event(session, "counter.updated", counter_event_data(session, counter), branch_id=counter.branch_id)
    record_change(session, actor, "counter.open", {"counter_id": counter.id})
    return counter


def seat_staff(session: Session, counter: Counter, *, staff_id: int) -> bool:
    """Put a staff member at a counter, leaving any other counter they sat at (one person, one counter).
    Returns True when something changed; the caller records the event for `counter`. The caller has locked the
    person and their counters first (wins.counters.locks.lock_seats)."""
    if counter.staff_id == staff_id:
        return False
    for other in session.scalars(select(Counter).where(Counter.staff_id == staff_id, Counter.id != counter.id)):
        end_pause(session, other, clock.utcnow())
        other.staff_id = None
        other.opened_at = None
        record_event(session, "counter.updated", counter_event_data(session, other), branch_id=other.branch_id)
    counter.staff_id = staff_id
    counter.opened_at = clock.utcnow()
    return True


def close_counter(session: Session, counter_id: int, *, actor: Principal | None) -> Counter:
    counter = get_counter(session, counter_id, lock=True)
    check_branch(actor, counter.branch_id)
    end_pause(session, counter, clock.utcnow())
    counter.staff_id = None
    counter.opened_at = None
    session.flush()
    record_event(session, "counter.updated", counter_event_data(session, counter), branch_id=counter.branch_id)
    record_change(session, actor, "counter.close", {"counter_id": counter.id})
    return counter


def _forget_last_counter(session: Session, counter_id: int) -> None:
    """Nobody is offered a counter that goes away as their usual one. Run before the counter is locked: staff
    rows come first in the lock order. An archive refused later rolls this back with the rest."""
    session.execute(update(StaffUser).where(StaffUser.last_counter_id == counter_id).values(last_counter_id=None))


def counter_is_used(session: Session, counter_id: int) -> bool:
    """A ticket was ever called there: the counter belongs to history and can only be archived."""
    return bool(session.scalar(select(exists().where(Ticket.counter_id == counter_id))))


def delete_counter(session: Session, counter_id: int, *, actor: Principal | None) -> None:
    """Delete a counter where no ticket was ever called; a used one answers 409: archive it instead."""
    _forget_last_counter(session, counter_id)  # staff rows before the counter row (wins.counters.locks)
    counter = get_counter(session, counter_id, lock=True)
    check_branch(actor, counter.branch_id, Role.manager)
    if counter_is_used(session, counter.id):
        raise Conflict(
            f"Counter {counter.name} has served tickets, so it cannot be deleted. Archive it instead: it then "
            "disappears from the workspace and screens but stays in reports."
        )
    branch_id, name = counter.branch_id, counter.name
    session.delete(counter)
    session.flush()
    record_event(session, "counter.deleted", {"id": counter_id, "name": name}, branch_id=branch_id)
    record_change(session, actor, "counter.delete", {"counter_id": counter_id, "name": name})


def archive_counter(session: Session, counter_id: int, *, actor: Principal | None) -> Counter:
    """Archive a counter: switched off, nobody seated, hidden everywhere; its history stays. Refused while it
    holds a called or serving ticket (finish, requeue or transfer that ticket first)."""
    _forget_last_counter(session, counter_id)  # staff rows before the counter row (wins.counters.locks)
    counter = get_counter(session, counter_id, lock=True)
    check_branch(actor, counter.branch_id, Role.manager)
    if counter.archived_at is not None:
        return counter
    held = session.scalar(select(Ticket).where(Ticket.counter_id == counter.id, IS_HELD))
    if held is not None:
        raise Conflict(
            f"Counter {counter.name} still holds ticket {held.number} ({held.status}). Complete, requeue or "
            "transfer it first, then archive the counter."
        )
    counter.active = False
    counter.staff_id = None
    counter.opened_at = None
    counter.archived_at = clock.utcnow()
    session.flush()
    record_event(session, "counter.updated", counter_event_data(session, counter), branch_id=counter.branch_id)
    record_change(session, actor, "counter.archive", {"counter_id": counter.id})
    return counter


def restore_counter(session: Session, counter_id: int, *, actor: Principal | None) -> Counter:
    """Bring an archived counter back, switched off: switch it on when it is staffed again."""
    counter = get_counter(session, counter_id, lock=True)
    check_branch(actor, counter.branch_id, Role.manager)
    if counter.archived_at is None:
        return counter
    counter.archived_at = None
    session.flush()
    record_event(session, "counter.updated", counter_event_data(session, counter), branch_id=counter.branch_id)
    record_change(session, actor, "counter.restore", {"counter_id": counter.id})
    return counter


def end_pause(session: Session, counter: Counter, now: datetime) -> None:
    """Close the counter's open pause, if any (resume, or its person leaves it; wins.counters.pauses). No event:
    the caller writes the counter's."""
    if counter.paused_at is None:
        return
    counter.paused_at = None
    counter.pause_reason = None
    for pause in session.scalars(
        select(CounterPause).where(CounterPause.counter_id == counter.id, CounterPause.ended_at.is_(None))
    ):
        pause.ended_at = now


def counter_public(session: Session, counter: Counter, *, staff_names: bool = True) -> dict[str, Any]:
    """A counter as the API shows it. `staff_names` False (for device tokens: kiosks and display boards, which
    sit in public view) leaves out who sits there by name; staff screens get the name."""
    staff = session.get(StaffUser, counter.staff_id) if staff_names and counter.staff_id else None
    return fields_of(
        CounterPublic,
        counter,
        staff_name=(staff.full_name or staff.username) if staff else None,
        archived=counter.archived_at is not None,
        paused_at=counter.paused_at.isoformat() if counter.paused_at else None,
    )


def counter_event_data(session: Session, counter: Counter) -> dict[str, Any]:
    """What a counter event carries: every subscriber of the event stream gets it, display boards and kiosks
    included, so it never names the staff member (staff screens read names from the API)."""
    return counter_public(session, counter, staff_names=False)


def shows_staff_names(principal: Principal) -> bool:
    """Staff see who sits at a counter; device tokens (kiosks, displays) see counter names only."""
    return principal.staff is not None


def _in_branch(branch_id: int | None, actor: Principal | None) -> int | None:
    """Where something new goes: the branch given, else the branch the actor acts in (None: the only one)."""
    return branch_id if branch_id is not None else (actor.branch_id if actor is not None else None)
