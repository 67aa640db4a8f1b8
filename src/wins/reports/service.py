"""Report computations. Pure reads; every figure is defined here once and used by the pages and the CSV.

Definitions (also in docs/staff-ui.md):
- a ticket belongs to the business day it was issued on, and to the service it ended in (after transfers);
- wait time = first_called_at - issued_at (tickets that were called at least once);
- service time = finished_at - serving_at (done tickets only);
- no-show rate = no-shows / (done + no-shows): of the customers who were called and whose visit ended,
  how many never came; tickets still open or cancelled by the customer do not count either way;
- the 90th percentile uses the nearest-rank method (the smallest value at or above 90 % of the sample).
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from wins.branches.models import Branch
from wins.branches.service import get_branch, today
from wins.counters.models import Counter
from wins.errors import ValidationFailed
from wins.services.models import Service
from wins.staff.models import StaffUser
from wins.tickets.models import Ticket, TicketStatus

MAX_RANGE_DAYS = 366


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (None for an empty sample)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class Timing:
    """Waits and service times of one group of tickets (a service, a staff member, everything)."""

    issued: int = 0
    done: int = 0
    no_show: int = 0
    cancelled: int = 0
    waits: list[float] = field(default_factory=list)
    service_times: list[float] = field(default_factory=list)

    def add(self, ticket: Ticket) -> None:
        self.issued += 1
        if ticket.status == TicketStatus.done:
            self.done += 1
        elif ticket.status == TicketStatus.no_show:
            self.no_show += 1
        elif ticket.status == TicketStatus.cancelled:
            self.cancelled += 1
        wait = wait_seconds(ticket)
        if wait is not None:
            self.waits.append(wait)
        served = service_seconds(ticket)
        if served is not None:
            self.service_times.append(served)

    def summary(self) -> dict[str, Any]:
        ended = self.done + self.no_show
        return {
            "issued": self.issued,
            "done": self.done,
            "no_show": self.no_show,
            "cancelled": self.cancelled,
            "no_show_rate": self.no_show / ended if ended else None,
            "wait_avg": mean(self.waits),
            "wait_p90": percentile(self.waits, 90),
            "service_avg": mean(self.service_times),
            "service_p90": percentile(self.service_times, 90),
        }


def wait_seconds(ticket: Ticket) -> float | None:
    if ticket.first_called_at is None:
        return None
    return max(0.0, (ticket.first_called_at - ticket.issued_at).total_seconds())


def service_seconds(ticket: Ticket) -> float | None:
    if ticket.status != TicketStatus.done or ticket.serving_at is None or ticket.finished_at is None:
        return None
    return max(0.0, (ticket.finished_at - ticket.serving_at).total_seconds())


@dataclass
class Report:
    branch: Branch
    first_day: date
    last_day: date
    services: list[Service]
    tickets: list[Ticket]
    hours: list[int]
    per_service_hour: dict[int, dict[int, int]]  # service id -> local hour -> tickets issued
    per_service: list[tuple[Service, dict[str, Any]]]
    per_staff: list[tuple[str, dict[str, Any]]]
    total: dict[str, Any]
    staff_names: dict[int, str]
    counter_names: dict[int, str]

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def parse_range(branch: Branch, first: str | None, last: str | None) -> tuple[date, date]:
    """The day range asked for; today when nothing is given. Refuses reversed or huge ranges."""
    try:
        last_day = date.fromisoformat(last) if last else today(branch)
        first_day = date.fromisoformat(first) if first else last_day
    except ValueError as exc:
        raise ValidationFailed("Write dates as YYYY-MM-DD, e.g. 2024-05-31.") from exc
    if first_day > last_day:
        raise ValidationFailed("The first day comes after the last day; swap them.")
    if (last_day - first_day).days >= MAX_RANGE_DAYS:
        raise ValidationFailed(f"A report covers at most {MAX_RANGE_DAYS} days.")
    return first_day, last_day


def build_report(session: Session, *, first_day: date, last_day: date, branch_id: int | None = None) -> Report:
    """Everything the report page and the CSV show for the business days first_day..last_day (inclusive)."""
    branch = get_branch(session, branch_id)
    zone = ZoneInfo(branch.timezone)
    services = list(
        session.scalars(select(Service).where(Service.branch_id == branch.id).order_by(Service.sort_order, Service.id))
    )
    tickets = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.branch_id == branch.id, Ticket.business_day >= first_day, Ticket.business_day <= last_day)
            .order_by(Ticket.issued_at, Ticket.id)
        )
    )
    staff_names = {u.id: u.full_name or u.username for u in session.scalars(select(StaffUser))}
    counter_names = {c.id: c.name for c in session.scalars(select(Counter).where(Counter.branch_id == branch.id))}

    per_service_hour: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    by_service: dict[int, Timing] = {s.id: Timing() for s in services}
    by_staff: dict[int, Timing] = defaultdict(Timing)
    total = Timing()
    for ticket in tickets:
        per_service_hour[ticket.service_id][ticket.issued_at.astimezone(zone).hour] += 1
        by_service.setdefault(ticket.service_id, Timing()).add(ticket)
        total.add(ticket)
        if ticket.staff_id is not None:
            by_staff[ticket.staff_id].add(ticket)
    busy_hours = sorted({h for hours in per_service_hour.values() for h in hours})
    hours = list(range(busy_hours[0], busy_hours[-1] + 1)) if busy_hours else []
    return Report(
        branch=branch,
        first_day=first_day,
        last_day=last_day,
        services=services,
        tickets=tickets,
        hours=hours,
        per_service_hour={k: dict(v) for k, v in per_service_hour.items()},
        per_service=[(s, by_service[s.id].summary()) for s in services],
        per_staff=sorted(
            ((staff_names.get(sid, f"#{sid}"), t.summary()) for sid, t in by_staff.items()), key=lambda r: r[0]
        ),
        total=total.summary(),
        staff_names=staff_names,
        counter_names=counter_names,
    )


# -- CSV -----------------------------------------------------------------------------------------------

CSV_KINDS = ("tickets", "services", "staff", "hourly")


def _fmt(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat(timespec="seconds") if value else ""


def report_csv(report: Report, kind: str) -> str:
    """One of CSV_KINDS as CSV text (times in the branch's time zone, durations in seconds)."""
    if kind not in CSV_KINDS:
        raise ValidationFailed(f"Unknown CSV {kind!r}; choose one of {', '.join(CSV_KINDS)}.")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    zone = ZoneInfo(report.branch.timezone)
    names = {s.id: s.name for s in report.services}
    summary_header = [
        "issued", "done", "no_show", "cancelled", "no_show_rate",
        "wait_avg_s", "wait_p90_s", "service_avg_s", "service_p90_s",
    ]  # fmt: skip

    def summary_row(data: dict[str, Any]) -> list[Any]:
        return [
            data["issued"], data["done"], data["no_show"], data["cancelled"], _fmt(data["no_show_rate"], 4),
            _fmt(data["wait_avg"]), _fmt(data["wait_p90"]), _fmt(data["service_avg"]), _fmt(data["service_p90"]),
        ]  # fmt: skip

    if kind == "tickets":
        writer.writerow([
            "business_day", "number", "service", "status", "priority", "issued_at", "first_called_at",
            "serving_at", "finished_at", "wait_s", "service_s", "counter", "staff", "transfers",
        ])  # fmt: skip
        for t in report.tickets:
            writer.writerow([
                t.business_day.isoformat(), t.number, names.get(t.service_id, ""), t.status, int(t.priority),
                _local(t.issued_at, zone), _local(t.first_called_at, zone), _local(t.serving_at, zone),
                _local(t.finished_at, zone), _fmt(wait_seconds(t), 0), _fmt(service_seconds(t), 0),
                report.counter_names.get(t.counter_id, "") if t.counter_id else "",
                report.staff_names.get(t.staff_id, "") if t.staff_id else "", t.transfer_count,
            ])  # fmt: skip
    elif kind == "services":
        writer.writerow(["service", "prefix", *summary_header])
        for s, data in report.per_service:
            writer.writerow([s.name, s.prefix, *summary_row(data)])
        writer.writerow(["All services", "", *summary_row(report.total)])
    elif kind == "staff":
        writer.writerow(["staff", *summary_header])
        for name, data in report.per_staff:
            writer.writerow([name, *summary_row(data)])
    else:
        writer.writerow(["hour", *[s.name for s in report.services], "total"])
        for hour in report.hours:
            counts = [report.per_service_hour.get(s.id, {}).get(hour, 0) for s in report.services]
            writer.writerow([f"{hour:02d}:00", *counts, sum(counts)])
    return out.getvalue()


def day_before(day: date, days: int = 1) -> date:
    return day - timedelta(days=days)
