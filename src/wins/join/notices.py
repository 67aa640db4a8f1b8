"""What the followers of the event log that tell remote customers (Web Push: wins.push.notifier, SMS:
wins.sms.sender) read from ticket events: one home for which events matter, the counter's name in a "your turn"
message and the "nearly your turn" rule."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from wins.counters.models import Counter
from wins.join.service import remote_settings
from wins.tickets.estimate import people_ahead
from wins.tickets.models import Ticket

ENDED = frozenset({"ticket.done", "ticket.no_show", "ticket.cancelled", "ticket.expired"})
CALLED = frozenset({"ticket.called", "ticket.recalled"})


@dataclass
class Touched:
    """The tickets a batch of events concerns: called (a "your turn" each), the services whose queue moved (a
    "nearly your turn" may be due there) and the tickets that ended (their subscriptions go)."""

    called: set[int] = field(default_factory=set)
    services: set[int] = field(default_factory=set)
    ended: list[int] = field(default_factory=list)


def touched(events: Iterable[Any]) -> Touched:
    out = Touched()
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        if not event.type.startswith("ticket."):
            continue
        ticket_id = data.get("id")
        if event.type in CALLED and isinstance(ticket_id, int):
            out.called.add(ticket_id)
        if event.type in ENDED and isinstance(ticket_id, int):
            out.ended.append(ticket_id)
        if isinstance(data.get("service_id"), int):
            out.services.add(data["service_id"])
    return out


def counter_name(session: Session, counter_id: int | None) -> str | None:
    counter = session.get(Counter, counter_id) if counter_id is not None else None
    return counter.name if counter is not None else None


def notify_ahead(session: Session, service_id: int) -> int:
    """How few people ahead make "nearly your turn" (the service's remote setting, 3 by default)."""
    return remote_settings(session, service_id).notify_ahead


def near_ahead(session: Session, ticket: Ticket) -> int | None:
    """The people ahead of a waiting ticket when that is few enough for "nearly your turn", else None."""
    ahead = people_ahead(session, ticket)
    return ahead if ahead <= notify_ahead(session, ticket.service_id) else None
