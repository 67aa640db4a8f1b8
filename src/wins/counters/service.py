from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wins import clock
from wins.audit.service import record_change
from wins.auth import Principal
from wins.branches.service import get_branch
from wins.counters.models import Counter, CounterPause, CounterService
from wins.errors import Conflict, NotFound, ValidationFailed
from wins.events.service import record_event
from wins.schemas import CounterPublic, fields_of
from wins.services.models import Service
from wins.staff.models import StaffUser


def list_counters(session: Session, *, branch_id: int | None = None) -> list[Counter]:
    branch = get_branch(session, branch_id)
    return list(session.scalars(select(Counter).where(Counter.branch_id == branch.id).order_by(Counter.id)))


def get_counter(session: Session, counter_id: int, *, lock: bool = False) -> Counter:
    query = select(Counter).where(Counter.id == counter_id)
    if lock:
        query = query.with_for_update()  # PostgreSQL: one action at a time per counter (no-op on SQLite)
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
    branch = get_branch(session, branch_id)
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
    if "name" in changes:
        counter.name = _check_name(session, counter.branch_id, changes["name"], exclude_id=counter.id)
    if "active" in changes:
        counter.active = bool(changes["active"])
        if not counter.active:
            counter.staff_id = None
    if "service_ids" in changes:
        _set_services(session, counter, changes["service_ids"])
    session.flush()
    record_event(session, "counter.updated", counter_event_data(session, counter), branch_id=counter.branch_id)
    record_change(session, actor, "counter.update", {"counter_id": counter.id, "fields": fields})
    return counter


def open_counter(session: Session, counter_id: int, *, staff: StaffUser, actor: Principal | None) -> Counter:
    """Staff sit down at a counter: it counts as open for wait estimates and displays show who is there."""
    counter = get_counter(session, counter_id, lock=True)
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
    Returns True when something changed; the caller records the event for `counter`."""
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
    end_pause(session, counter, clock.utcnow())
    counter.staff_id = None
    counter.opened_at = None
    session.flush()
    record_event(session, "counter.updated", counter_event_data(session, counter), branch_id=counter.branch_id)
    record_change(session, actor, "counter.close", {"counter_id": counter.id})
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
        paused_at=counter.paused_at.isoformat() if counter.paused_at else None,
    )


def counter_event_data(session: Session, counter: Counter) -> dict[str, Any]:
    """What a counter event carries: every subscriber of the event stream gets it, display boards and kiosks
    included, so it never names the staff member (staff screens read names from the API)."""
    return counter_public(session, counter, staff_names=False)


def shows_staff_names(principal: Principal) -> bool:
    """Staff see who sits at a counter; device tokens (kiosks, displays) see counter names only."""
    return principal.staff is not None
