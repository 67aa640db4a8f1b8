"""A ticket's whole story, for answering a complaint: issued when and where, every call, recall, transfer,
requeue and hand-over, who handled it at which counter, each wait and the service time.

Built from three records that are written in the same transaction as each change:
- the ticket row (issued when, by which kiosk or staff member; the final state and its times);
- the event log (`events`): every change, with the counter's and service's names as they were then;
- the audit log (`audit_log`, indexed by ticket): who (staff) made each change.

An event and the audit entry of the same change have the same type (`apply_transition` writes both) and the
same time to within the transaction; they are paired in order. The event log has no index on time or ticket:
its id grows with time, so the ticket's window (issued … finished, with a margin) is found by a binary search
over the id (a few dozen primary-key reads), and only that window is read.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from wins import clock
from wins.audit.models import AuditEntry
from wins.branches.service import get_branch
from wins.counters.models import Counter
from wins.devices.models import Device
from wins.errors import NotFound, ValidationFailed
from wins.events.models import Event
from wins.services.models import Service
from wins.staff.models import StaffUser
from wins.tickets.models import Ticket

MARGIN = timedelta(minutes=2)  # `at` is stamped before the insert: ids and times may cross by a little
PAIR_WITHIN = timedelta(seconds=5)

LABELS = {
    "ticket.issued": "Issued",
    "ticket.called": "Called",
    "ticket.recalled": "Called again",
    "ticket.serving": "Service started",
    "ticket.done": "Done",
    "ticket.no_show": "Marked no-show",
    "ticket.requeued": "Back in the queue (at the front)",
    "ticket.transferred": "Transferred",
    "ticket.cancelled": "Cancelled",
    "ticket.expired": "Expired at the end of the day",
    "ticket.passed_over": "Passed over: not checked in yet",
    "ticket.checked_in": "Checked in (I'm here)",
    "ticket.checkin_waived": "Check-in no longer needed (switched off for its service)",
}
JOINS_QUEUE = ("ticket.issued", "ticket.requeued", "ticket.transferred")


def parse_query(number: str, day: str | None, *, today: date) -> tuple[str, date]:
    number = number.strip().upper()
    if not number or len(number) > 12:
        raise ValidationFailed("Type the ticket number as printed on the slip, e.g. A012.")
    try:
        return number, date.fromisoformat(day) if day else today
    except ValueError as exc:
        raise ValidationFailed("Write the day as YYYY-MM-DD, e.g. 2026-11-29.") from exc


def find(session: Session, *, number: str, day: str | None, branch_id: int | None = None) -> list[dict[str, Any]]:
    """The story of every ticket numbered `number` on business day `day` (today if None); usually one."""
    from wins.branches.service import today

    branch = get_branch(session, branch_id)
    number, business_day = parse_query(number, day, today=today(branch))
    tickets = session.scalars(
        select(Ticket)
        .where(Ticket.branch_id == branch.id, Ticket.business_day == business_day, Ticket.number == number)
        .order_by(Ticket.id)
    ).all()
    if not tickets:
        raise NotFound(
            f"No ticket {number} on {business_day.isoformat()}. Check the number and the day: a ticket belongs "
            "to the business day it was issued on."
        )
    return [story(session, t, zone=ZoneInfo(branch.timezone)) for t in tickets]


def _event_id_at(session: Session, when: datetime) -> int:
    """The smallest event id whose event (or a later one) is stamped at or after `when` (binary search)."""
    lo, hi = 0, (session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        at = session.scalar(select(Event.at).where(Event.id >= mid).order_by(Event.id).limit(1))
        if at is None or at >= when:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _events(session: Session, ticket: Ticket) -> list[Event]:
    end = (ticket.finished_at or clock.utcnow()) + MARGIN
    first, last = _event_id_at(session, ticket.issued_at - MARGIN), _event_id_at(session, end)
    return list(
        session.scalars(
            select(Event)
            .where(
                Event.id >= first,
                Event.id <= last,
                Event.type.like("ticket.%"),
                Event.data["id"].as_integer() == ticket.id,
            )
            .order_by(Event.id)
        )
    )


def _names(session: Session, model: Any, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.scalars(select(model).where(model.id.in_(ids))).all()
    return {r.id: (getattr(r, "full_name", "") or getattr(r, "username", "") or r.name) for r in rows}


def story(session: Session, ticket: Ticket, *, zone: ZoneInfo) -> dict[str, Any]:
    """One ticket's story (see the module's docstring)."""
    audits = list(session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == ticket.id).order_by(AuditEntry.id)))
    events = _events(session, ticket)
    staff = _names(session, StaffUser, {a.staff_id for a in audits if a.staff_id} | _ids(ticket))
    counters = _names(session, Counter, {int(a.details["counter_id"]) for a in audits if a.details.get("counter_id")})
    services = _names(
        session,
        Service,
        {ticket.service_id, ticket.issued_service_id} | {int(a.details.get("from_service_id") or 0) for a in audits},
    )

    used: set[int] = set()

    def audit_for(action: str, at: datetime) -> AuditEntry | None:
        for a in audits:
            if a.id not in used and a.action == action and abs(a.at - at) <= PAIR_WITHIN:
                used.add(a.id)
                return a
        return None

    steps: list[dict[str, Any]] = []
    for e in events:
        entry = audit_for("ticket.issue" if e.type == "ticket.issued" else e.type, e.at)
        steps.append(_step(e.type, e.at, e.data, entry, staff, counters, services, zone))
    for a in audits:  # changes whose event is missing from the log: still told, from the audit alone
        if a.id not in used and a.action.startswith("ticket.") and a.action != "ticket.issue":
            data = {"counter_name": counters.get(int(a.details.get("counter_id") or 0))}
            steps.append(_step(a.action, a.at, data, a, staff, counters, services, zone))
    steps.sort(key=lambda s: s["at"])
    if not any(s["type"] == "ticket.issued" for s in steps):
        steps.insert(0, _step("ticket.issued", ticket.issued_at, {}, None, staff, counters, services, zone))
    issued_by = _issued_text(session, ticket, staff)
    for s in steps:
        if s["type"] == "ticket.issued":
            s["text"] = issued_by
    return {
        "id": ticket.id,
        "number": ticket.number,
        "business_day": ticket.business_day.isoformat(),
        "status": ticket.status,
        "priority": ticket.priority,
        "language": ticket.language,
        "issued_service": services.get(ticket.issued_service_id),
        "service": services.get(ticket.service_id),
        "issued_at": _local(ticket.issued_at, zone),
        "issued_by": issued_by,
        "finished_at": _local(ticket.finished_at, zone),
        "calls": ticket.call_count,
        "transfers": ticket.transfer_count,
        "handled_by": sorted({s["staff"] for s in steps if s["staff"]}),
        "steps": steps,
        **_durations(ticket, steps),
    }


def _ids(ticket: Ticket) -> set[int]:
    return {i for i in (ticket.staff_id, ticket.issued_by_staff_id) if i}


def _local(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).isoformat(timespec="seconds") if value else None


def _issued_text(session: Session, ticket: Ticket, staff: dict[int, str]) -> str:
    if ticket.issued_by_device_id:
        device = session.get(Device, ticket.issued_by_device_id)
        return f"Issued at the kiosk {device.name if device else f'#{ticket.issued_by_device_id}'}"
    if ticket.issued_by_staff_id:
        return f"Issued by {staff.get(ticket.issued_by_staff_id, f'staff #{ticket.issued_by_staff_id}')} (staff)"
    return "Issued (by the system)"


def _step(
    kind: str,
    at: datetime,
    data: dict[str, Any],
    entry: AuditEntry | None,
    staff: dict[int, str],
    counters: dict[int, str],
    services: dict[int, str],
    zone: ZoneInfo,
) -> dict[str, Any]:
    details = entry.details if entry else {}
    who = staff.get(entry.staff_id) if entry and entry.staff_id else None
    counter = data.get("counter_name") or counters.get(int(details.get("counter_id") or 0))
    text = LABELS.get(kind, kind)
    if kind == "ticket.called" and details.get("handed_over_from_counter_id"):
        source = counters.get(int(details["handed_over_from_counter_id"])) or "another counter"
        text = f"Handed over from counter {source} and called"
    if kind in ("ticket.called", "ticket.recalled") and counter:
        text += f" to counter {counter}"
        if data.get("call_count", 0) > 1:
            text += f" (call {data['call_count']})"
        if details.get("out_of_order"):
            text += ", out of order"
    if kind == "ticket.no_show" and details.get("reason") == "not_checked_in":
        text = "No-show: not checked in within the grace time"
    if kind == "ticket.transferred":
        origin = services.get(int(details.get("from_service_id") or 0))
        text += f"{f' from {origin}' if origin else ''} to {data.get('service_name') or 'another service'}"
        text += ", at the back of the queue" if details.get("to_end") else ", keeping its place"
    if kind == "ticket.cancelled":
        text += " by staff" if who else " by the customer"
    return {
        "type": kind,
        "at": at.isoformat(),
        "local_time": _local(at, zone),
        "text": text,
        "counter": counter,
        "service": data.get("service_name"),
        "staff": who,
    }


def _durations(ticket: Ticket, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Each wait in a queue (joined → called), and the service time (started, or called, → finished)."""
    waits: list[int] = []
    joined: datetime | None = None
    for s in steps:
        at = datetime.fromisoformat(s["at"])
        if s["type"] in JOINS_QUEUE and joined is None:  # a transfer while waiting does not restart the wait
            joined = at
        elif s["type"] == "ticket.called" and joined is not None:
            waits.append(int((at - joined).total_seconds()))
            joined = None
    start = ticket.serving_at or ticket.called_at
    served = (
        int((ticket.finished_at - start).total_seconds())
        if ticket.status == "done" and start is not None and ticket.finished_at is not None
        else None
    )
    total = int(((ticket.finished_at or clock.utcnow()) - ticket.issued_at).total_seconds())
    return {
        "waits_seconds": waits,
        "wait_seconds": sum(waits),
        "service_seconds": served,
        "total_seconds": total,
    }
