"""The queue snapshot (`GET /api/v1/queue`): everything a screen needs to draw the queue, plus the event id to follow
the stream from."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wins import clock
from wins.branches.models import Branch
from wins.branches.service import get_branch, today
from wins.config import Settings
from wins.counters.models import Counter
from wins.counters.service import counter_public
from wins.services.models import Service
from wins.tickets import estimate as est
from wins.tickets.arrival import arrival_state
from wins.tickets.caches import service_load
from wins.tickets.calling import category_labels, category_weight, category_weights, next_for_counter
from wins.tickets.models import IS_HELD, Ticket, TicketStatus
from wins.tickets.views import ticket_event_data

# -- queue snapshot ------------------------------------------------------------------------------------


def queue_snapshot(
    session: Session, *, settings: Settings, branch_id: int | None = None, staff_names: bool = True
) -> dict[str, Any]:
    """Everything a screen needs to draw the queue, plus the event id to follow changes from (`staff_names`:
    see `counter_public`)."""
    from wins.events.service import last_event_id
    from wins.services.service import service_public

    # Read the event id first: any change after it is replayed by the stream, so nothing is missed.
    last_id = last_event_id(session)
    branch: Branch = get_branch(session, branch_id)
    day = today(branch)
    now = clock.utcnow()
    weights = category_weights(branch.settings)
    labels = category_labels(branch.settings)
    waiting = session.scalars(
        select(Ticket)
        .where(Ticket.branch_id == branch.id, Ticket.business_day == day, Ticket.status == TicketStatus.waiting)
        .order_by(Ticket.priority.desc(), category_weight(weights).desc(), Ticket.queue_at, Ticket.id)
    ).all()
    services = session.scalars(
        select(Service)
        .where(Service.branch_id == branch.id, Service.archived_at.is_(None))  # archived: history only
        .order_by(Service.sort_order, Service.id)
    ).all()
    by_service: dict[int, list[Ticket]] = {s.id: [] for s in services}
    for t in waiting:
        by_service.setdefault(t.service_id, []).append(t)
    served_today = dict(
        session.execute(
            select(Ticket.service_id, func.count())
            .where(Ticket.branch_id == branch.id, Ticket.business_day == day, Ticket.status == TicketStatus.done)
            .group_by(Ticket.service_id)
        ).all()
    )
    service_rows = []
    for s in services:
        tickets = by_service.get(s.id, [])
        load = service_load(session, s.id, settings=settings)
        longest = int((now - min(t.issued_at for t in tickets)).total_seconds()) if tickets else 0
        service_rows.append(
            {
                **service_public(s, branch),
                "waiting_count": len(tickets),
                "served_today": served_today.get(s.id, 0),
                "longest_wait_seconds": longest,
                # The oldest wait has passed the service's target (the dashboard and the workspace warn).
                "over_target": bool(s.target_wait_minutes and longest > s.target_wait_minutes * 60),
                "mean_service_seconds": round(load.mean_service_seconds),
                "open_counters": load.open_counters,
                "tickets": [
                    {
                        "id": t.id,
                        "number": t.number,
                        "priority": t.priority,
                        "priority_category": t.priority_category,
                        "priority_label": labels.get(t.priority_category or ""),
                        "issued_at": t.issued_at.isoformat(),
                        "queue_at": t.queue_at.isoformat(),
                        "position": i + 1,
                        "estimated_wait_seconds": est.estimate_for(i, load).seconds,
                        "waited_seconds": int((now - t.issued_at).total_seconds()),
                        "transfer_count": t.transfer_count,
                        # Arrival check-in (wins.tickets.arrival): "needed"/"passed_over" are not called yet.
                        "arrival": arrival_state(t),
                    }
                    for i, t in enumerate(tickets)
                ],
            }
        )
    counters = session.scalars(
        select(Counter).where(Counter.branch_id == branch.id, Counter.archived_at.is_(None)).order_by(Counter.id)
    ).all()
    held = {
        t.counter_id: t
        for t in session.scalars(
            select(Ticket).where(Ticket.counter_id.is_not(None), IS_HELD, Ticket.branch_id == branch.id)
        )
    }
    counter_rows = []
    for c in counters:
        held_ticket = held.get(c.id)
        counter_rows.append(
            {
                **counter_public(session, c, staff_names=staff_names),
                "ticket": ticket_event_data(session, held_ticket) if held_ticket else None,
                # Whom "Call next" takes at this counter now, by call-next's own rule (tickets.calling).
                "next_ticket_id": next_for_counter(session, c, branch),
            }
        )
    recent = session.scalars(
        select(Ticket)
        .where(Ticket.branch_id == branch.id, Ticket.business_day == day, Ticket.called_at.is_not(None))
        .order_by(Ticket.called_at.desc())
        .limit(10)
    ).all()
    return {
        "branch": {"id": branch.id, "name": branch.name, "timezone": branch.timezone, "business_day": day.isoformat()},
        "priority_categories": [{"key": key, "label": label} for key, label in labels.items()],
        "services": service_rows,
        "counters": counter_rows,
        "recent_calls": [ticket_event_data(session, t) for t in recent],
        "waiting_total": len(waiting),
        "last_event_id": last_id,
        "generated_at": now.isoformat(),
    }
