"""Report figures of the counter workspace (issue 16): tickets per named priority category, and paused counter
time per counter and reason. Kept beside `reports.service`, which builds the ticket timings."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wins import clock
from wins.branches.models import Branch
from wins.counters.models import Counter, CounterPause
from wins.tickets.calling import category_labels
from wins.tickets.models import Ticket, TicketStatus


@dataclass(frozen=True)
class CategoryRow:
    key: str
    label: str
    issued: int
    done: int
    no_show: int


@dataclass(frozen=True)
class PauseRow:
    counter: str
    reason: str
    pauses: int
    seconds: float


def category_counts(session: Session, branch: Branch, first_day: date, last_day: date) -> list[CategoryRow]:
    """Tickets per named priority category over the business days (categories no longer set up keep their key)."""
    rows = session.execute(
        select(Ticket.priority_category, Ticket.status, func.count())
        .where(
            Ticket.branch_id == branch.id,
            Ticket.business_day >= first_day,
            Ticket.business_day <= last_day,
            Ticket.priority_category.is_not(None),
        )
        .group_by(Ticket.priority_category, Ticket.status)
    ).all()
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, status, count in rows:
        if key is None:  # excluded by the query; for the type checker
            continue
        counts[key]["issued"] += count
        counts[key][str(status)] += count
    labels = category_labels(branch.settings)
    order = list(labels) + sorted(k for k in counts if k not in labels)
    return [
        CategoryRow(
            key,
            labels.get(key, key),
            counts[key]["issued"],
            counts[key][TicketStatus.done.value],
            counts[key][TicketStatus.no_show.value],
        )
        for key in order
        if key in counts
    ]


def paused_time(session: Session, branch: Branch, first_day: date, last_day: date) -> list[PauseRow]:
    """Paused time per counter and reason over the business days (a pause still running counts until now)."""
    now = clock.utcnow()
    rows = session.execute(
        select(CounterPause, Counter.name)
        .join(Counter, Counter.id == CounterPause.counter_id)
        .where(
            CounterPause.branch_id == branch.id,
            CounterPause.business_day >= first_day,
            CounterPause.business_day <= last_day,
        )
    ).all()
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for pause, counter_name in rows:
        end = pause.ended_at or now
        total = totals[(counter_name, pause.reason)]
        total[0] += 1
        total[1] += max(0.0, (end - pause.started_at).total_seconds())
    return [PauseRow(counter, reason, int(n), seconds) for (counter, reason), (n, seconds) in sorted(totals.items())]
