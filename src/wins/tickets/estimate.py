"""Position in the queue and estimated wait.

How the estimate is computed (kept simple on purpose, so staff can explain it to a customer):
- `s` = the mean service time (serving → done) of the service's last N served tickets
  (N = `WINS_ESTIMATE_SAMPLE_SIZE`), or `WINS_DEFAULT_SERVICE_SECONDS` before any has been served;
- `c` = open counters (a staff member is signed in there) that serve the service, at least 1;
- `a` = people ahead of the ticket in its service's queue (priority tickets first, then by queue time);
- if there are at least `a + 1` open counters with nobody at them, the wait is 0;
- otherwise the wait is `(a + 0.5) * s / c`: the `0.5` is the expected remaining time of the customers
  the counters are serving now.
The range shown to customers widens that by the spread seen in practice (see `bench/estimate_accuracy.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from wins.counters.models import Counter, CounterService
from wins.tickets.models import HELD, Ticket, TicketStatus

RANGE_LOW = 0.6
RANGE_HIGH = 1.4


@dataclass(frozen=True)
class ServiceLoad:
    mean_service_seconds: float
    open_counters: int
    idle_counters: int
    sampled: int


@dataclass(frozen=True)
class Estimate:
    people_ahead: int
    seconds: int
    low: int
    high: int


def service_load(session: Session, service_id: int, *, sample_size: int, default_seconds: int) -> ServiceLoad:
    rows = session.execute(
        select(Ticket.serving_at, Ticket.finished_at)
        .where(
            Ticket.service_id == service_id,
            Ticket.status == TicketStatus.done,
            Ticket.serving_at.is_not(None),
            Ticket.finished_at.is_not(None),
        )
        .order_by(Ticket.finished_at.desc())
        .limit(sample_size)
    ).all()
    durations = [(done - start).total_seconds() for start, done in rows if start and done and done >= start]
    mean = sum(durations) / len(durations) if durations else float(default_seconds)
    open_ids = list(
        session.scalars(
            select(Counter.id)
            .join(CounterService, CounterService.counter_id == Counter.id)
            .where(CounterService.service_id == service_id, Counter.active.is_(True), Counter.staff_id.is_not(None))
        )
    )
    busy = (
        session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.counter_id.in_(open_ids), Ticket.status.in_(HELD))
        )
        if open_ids
        else 0
    )
    return ServiceLoad(max(mean, 1.0), len(open_ids), len(open_ids) - (busy or 0), len(durations))


def people_ahead(session: Session, ticket: Ticket) -> int:
    """Waiting tickets of the same service and day that will be called before this one."""
    if ticket.status != TicketStatus.waiting:
        return 0
    earlier = or_(Ticket.queue_at < ticket.queue_at, and_(Ticket.queue_at == ticket.queue_at, Ticket.id < ticket.id))
    if ticket.priority:
        before = and_(Ticket.priority.is_(True), earlier)
    else:
        before = or_(Ticket.priority.is_(True), earlier)
    return (
        session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(
                Ticket.service_id == ticket.service_id,
                Ticket.business_day == ticket.business_day,
                Ticket.status == TicketStatus.waiting,
                before,
            )
        )
        or 0
    )


def estimate_for(ahead: int, load: ServiceLoad) -> Estimate:
    if load.idle_counters > ahead:
        return Estimate(ahead, 0, 0, int(load.mean_service_seconds / 2))
    counters = max(load.open_counters, 1)
    seconds = (ahead + 0.5) * load.mean_service_seconds / counters
    return Estimate(ahead, round(seconds), round(seconds * RANGE_LOW), round(seconds * RANGE_HIGH))


def estimate(session: Session, ticket: Ticket, *, sample_size: int, default_seconds: int) -> Estimate:
    load = service_load(session, ticket.service_id, sample_size=sample_size, default_seconds=default_seconds)
    return estimate_for(people_ahead(session, ticket), load)
