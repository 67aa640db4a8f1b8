"""Position in the queue and estimated wait.

How the estimate is computed (simple enough for staff to explain to a customer):
- `s` = mean counter time per customer of the service: from the call to done (the walk to the counter
  counts), over its last N served tickets (N = `WINS_ESTIMATE_SAMPLE_SIZE`), or
  `WINS_DEFAULT_SERVICE_SECONDS` before any has been served;
- `c_eff` = open counters (someone signed in) that serve the service, each weighted by the share of its
  recent time that went to this service (a counter that serves Payments first and General only when no one
  waits for Payments gives General only part of its time);
- `r` = tickets of the service actually called per second over the last 30 minutes (this sees lunch
  breaks, no-shows and slow days that the model cannot);
- `a` = people ahead of the ticket in its service's queue (priority tickets first, then by queue time);
- if more open counters are idle than there are people ahead, the wait is 0;
- otherwise the wait is `w = (a + 0.5) / max(c_eff / s, r)`: the `0.5` is the expected remaining time of
  the customers being served now; the faster of the two rates wins, so a counter that just closed does not
  make the estimate explode while the others keep calling.
The range shown to customers is `[0.6 w - 2 min, 1.25 w + 5 min]`. `bench/estimate_accuracy.py` replays busy
days through this code: with this rule about 85-90 % of customers are called inside their range (the
foundation's `(a + 0.5) s / c` with `x0.6..x1.4` managed about 40 %, and underestimated by ~20 minutes);
see docs/display.md for the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from wins import clock
from wins.counters.models import Counter, CounterService
from wins.tickets.models import IS_HELD, Ticket, TicketStatus

RULE = "(a + 0.5) / max(c_eff / s, recent call rate), range [0.6 w - 2 min, 1.25 w + 5 min]"
# A counter that serves a service only after others still counts for this much of one.
MIN_COUNTER_SHARE = 0.1
# The call rate actually achieved is measured over this window (shorter just after opening, at least the minimum).
RATE_WINDOW = timedelta(minutes=30)
MIN_RATE_WINDOW = timedelta(minutes=10)
# The range shown: [0.6 w - 2 min, 1.25 w + 5 min]. The minutes matter for short queues (one slow customer
# ahead doubles a 4-minute wait), the factors for long ones. Chosen with bench/estimate_accuracy.py.
RANGE_LOW = 0.6
RANGE_HIGH = 1.25
RANGE_PAD_LOW_SECONDS = 120.0
RANGE_PAD_HIGH_SECONDS = 300.0


@dataclass(frozen=True)
class ServiceLoad:
    mean_service_seconds: float
    open_counters: int
    idle_counters: int
    sampled: int
    # Open counters weighted by the share of their recent time that went to this service (0: unknown).
    effective_counters: float = 0.0
    # Tickets of this service called per hour lately: what the counters really did, breaks included.
    recent_calls_per_hour: float = 0.0


@dataclass(frozen=True)
class Estimate:
    people_ahead: int
    seconds: int
    low: int
    high: int


def service_load(session: Session, service_id: int, *, sample_size: int, default_seconds: int) -> ServiceLoad:
    # Counter time per customer: from the (first) call to done, so the walk to the counter counts too.
    started = func.coalesce(Ticket.first_called_at, Ticket.serving_at)
    rows = session.execute(
        select(started, Ticket.finished_at)
        .where(
            Ticket.service_id == service_id,
            Ticket.status == TicketStatus.done,
            started.is_not(None),
            Ticket.finished_at.is_not(None),
        )
        .order_by(Ticket.finished_at.desc())
        .limit(sample_size)
    ).all()
    durations = [(done - start).total_seconds() for start, done in rows if start and done and done >= start]
    mean = sum(durations) / len(durations) if durations else float(default_seconds)
    open_rows = session.execute(
        select(Counter.id, CounterService.position)
        .join(CounterService, CounterService.counter_id == Counter.id)
        .where(
            CounterService.service_id == service_id,
            Counter.active.is_(True),
            Counter.staff_id.is_not(None),
            Counter.paused_at.is_(None),  # a paused counter takes nobody (issue 16)
        )
    ).all()
    open_ids = [row[0] for row in open_rows]
    busy = (
        session.scalar(select(func.count()).select_from(Ticket).where(Ticket.counter_id.in_(open_ids), IS_HELD))
        if open_ids
        else 0
    )
    effective = sum(_counter_share(session, counter_id, service_id, sample_size) for counter_id in open_ids)
    return ServiceLoad(
        max(mean, 1.0),
        len(open_ids),
        len(open_ids) - (busy or 0),
        len(durations),
        effective_counters=effective,
        recent_calls_per_hour=_recent_call_rate(session, service_id),
    )


def _recent_call_rate(session: Session, service_id: int) -> float:
    """Tickets of this service called per hour over the last RATE_WINDOW (shorter early in the day)."""
    now = clock.utcnow()
    since = now - RATE_WINDOW
    row = session.execute(
        select(func.count(), func.min(Ticket.first_called_at)).where(
            Ticket.service_id == service_id, Ticket.first_called_at >= since, Ticket.first_called_at <= now
        )
    ).one()
    count, first = int(row[0] or 0), row[1]
    if count < 2 or first is None:
        return 0.0
    window = max((now - clock.as_utc(first)).total_seconds(), MIN_RATE_WINDOW.total_seconds())
    return count * 3600.0 / window


def _counter_share(session: Session, counter_id: int, service_id: int, sample_size: int) -> float:
    """The share of a counter's recent time that went to this service (a counter serving two services
    gives each only part of its time). 1 before the counter has served anyone."""
    started = func.coalesce(Ticket.first_called_at, Ticket.called_at)
    rows = session.execute(
        select(Ticket.service_id, started, Ticket.finished_at)
        .where(Ticket.counter_id == counter_id, Ticket.finished_at.is_not(None), started.is_not(None))
        .order_by(Ticket.finished_at.desc())
        .limit(sample_size)
    ).all()
    total = mine = 0.0
    for sid, start, done in rows:
        if start is None or done is None:
            continue
        seconds = max((done - start).total_seconds(), 0.0)
        total += seconds
        if sid == service_id:
            mine += seconds
    if total <= 0:
        return 1.0
    return max(mine / total, MIN_COUNTER_SHARE)


def people_ahead(session: Session, ticket: Ticket) -> int:
    """Waiting tickets of the same service and day that will be called before this one."""
    if ticket.status != TicketStatus.waiting:
        return 0
    same_queue = (
        Ticket.status == TicketStatus.waiting,
        Ticket.service_id == ticket.service_id,
        Ticket.business_day == ticket.business_day,
    )
    earlier = or_(Ticket.queue_at < ticket.queue_at, and_(Ticket.queue_at == ticket.queue_at, Ticket.id < ticket.id))
    if ticket.priority:
        return session.scalar(select(func.count()).where(*same_queue, Ticket.priority.is_(True), earlier)) or 0
    # Non-priority: everyone earlier, plus priority tickets that came later. Counted as two ranges of the
    # queue index (status, service, day, queue_at) so the long part, the people ahead, is read from the
    # index alone: one OR across both made SQLite visit every waiting row of the table on each issue.
    ahead = session.scalar(select(func.count()).where(*same_queue, Ticket.queue_at < ticket.queue_at)) or 0
    rest = session.scalar(
        select(func.count()).where(
            *same_queue,
            Ticket.queue_at >= ticket.queue_at,
            or_(Ticket.priority.is_(True), and_(Ticket.queue_at == ticket.queue_at, Ticket.id < ticket.id)),
        )
    )
    return ahead + (rest or 0)


def estimate_for(ahead: int, load: ServiceLoad) -> Estimate:
    if load.idle_counters > ahead:
        return Estimate(ahead, 0, 0, int(load.mean_service_seconds / 2))
    counters = max(load.effective_counters or load.open_counters, MIN_COUNTER_SHARE)
    per_second = max(counters / load.mean_service_seconds, load.recent_calls_per_hour / 3600.0)
    seconds = (ahead + 0.5) / per_second
    low = max(seconds * RANGE_LOW - RANGE_PAD_LOW_SECONDS, 0.0)
    high = seconds * RANGE_HIGH + RANGE_PAD_HIGH_SECONDS
    return Estimate(ahead, round(seconds), round(low), round(high))


def estimate(session: Session, ticket: Ticket, *, sample_size: int, default_seconds: int) -> Estimate:
    load = service_load(session, ticket.service_id, sample_size=sample_size, default_seconds=default_seconds)
    return estimate_for(people_ahead(session, ticket), load)
