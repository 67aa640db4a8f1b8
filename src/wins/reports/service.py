"""Report computations. Pure reads; every figure is defined here once and used by the pages and the CSV.
(Past 400 lines on purpose: each figure's definition and its SQL stay side by side in one place, so the pages,
the CSV and docs/staff-ui.md cannot drift apart.)

Definitions (also in docs/staff-ui.md):
- a ticket belongs to the business day it was issued on, and to the service it ended in (after transfers);
- wait time = first_called_at - issued_at (tickets that were called at least once);
- service time = finished_at - serving_at (done tickets only);
- no-show rate = no-shows / (done + no-shows): of the customers who were called and whose visit ended,
  how many never came; tickets still open or cancelled by the customer do not count either way;
- expired = tickets still waiting, called or serving when their business day ended (wins.tickets.expiry);
- the 90th percentile uses the nearest-rank method (the smallest value at or above 90 % of the sample).

How (docs/performance.md, "History scale"): one SQL pass over the range's rows (index ix_tickets_day) groups
them by service, staff member and local hour; per group it counts the statuses and lists every wait and
service time in whole microseconds, computed in SQL. Python adds the groups up and takes the averages and the
nearest-rank percentiles (SQLite has no percentile aggregate). No ticket object is loaded, except by the
per-ticket CSV, which reads them as it writes.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    select,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from wins.branches.models import Branch
from wins.branches.service import get_branch, today
from wins.counters.models import Counter
from wins.csvsafe import SafeCsvWriter
from wins.errors import ValidationFailed
from wins.services.models import Service
from wins.staff.models import StaffUser
from wins.tickets.models import Ticket, TicketStatus

MAX_RANGE_DAYS = 366
MICROS = 1_000_000


@dataclass
class Timing:
    """Counts, waits and service times of one group of tickets (a service, a staff member, everything).
    Durations are whole microseconds, as the database computes them."""

    issued: int = 0
    done: int = 0
    no_show: int = 0
    cancelled: int = 0
    waits: list[int] = field(default_factory=list)
    service_times: list[int] = field(default_factory=list)
    expired: int = 0  # still open when their business day ended (wins.tickets.expiry)

    def add(self, part: Timing) -> None:
        self.issued += part.issued
        self.done += part.done
        self.no_show += part.no_show
        self.cancelled += part.cancelled
        self.expired += part.expired
        self.waits += part.waits
        self.service_times += part.service_times

    def summary(self) -> dict[str, Any]:
        """The figures of the report (sorts the durations in place)."""
        self.waits.sort()
        self.service_times.sort()
        ended = self.done + self.no_show
        return {
            "issued": self.issued,
            "done": self.done,
            "no_show": self.no_show,
            "cancelled": self.cancelled,
            "expired": self.expired,
            "no_show_rate": self.no_show / ended if ended else None,
            "wait_avg": _mean_seconds(self.waits),
            "wait_p90": _p90_seconds(self.waits),
            "service_avg": _mean_seconds(self.service_times),
            "service_p90": _p90_seconds(self.service_times),
        }


def _mean_seconds(micros: list[int]) -> float | None:
    # One integer division: the exact mean, rounded once (summing float seconds would round at every step).
    return sum(micros) / (len(micros) * MICROS) if micros else None


def _p90_seconds(ordered: list[int]) -> float | None:
    """Nearest-rank 90th percentile of sorted microseconds, in seconds."""
    if not ordered:
        return None
    return ordered[max(1, math.ceil(90 / 100 * len(ordered))) - 1] / MICROS


def wait_seconds(ticket: Ticket) -> float | None:
    if ticket.first_called_at is None:
        return None
    return max(0.0, (ticket.first_called_at - ticket.issued_at).total_seconds())


def service_seconds(ticket: Ticket) -> float | None:
    if ticket.status != TicketStatus.done or ticket.serving_at is None or ticket.finished_at is None:
        return None
    return max(0.0, (ticket.finished_at - ticket.serving_at).total_seconds())


class TicketRows:
    """The range's tickets, oldest first, read from the database only when iterated (the per-ticket CSV).

    The page needs only whether there are any: 120,000 ticket objects for a 30-day report cost seconds.
    Iterate while the session that built the report is open.
    """

    def __init__(self, session: Session, query: Select[Ticket], count: int) -> None:
        self._session = session
        self._query = query
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Ticket]:
        return iter(self._session.scalars(self._query.execution_options(yield_per=2000)))


@dataclass
class Report:
    branch: Branch
    first_day: date
    last_day: date
    services: list[Service]
    tickets: TicketRows
    hours: list[int]
    per_service_hour: dict[int, dict[int, int]]  # service id -> local hour -> tickets issued
    per_service: list[tuple[Service, dict[str, Any]]]
    per_staff: list[tuple[str, dict[str, Any]]]
    total: dict[str, Any]
    staff_names: dict[int, str]
    counter_names: dict[int, str]
    # kiosk, staff (reception), remote (the join page): how customers came (issue 17)
    per_channel: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


FIRST_REPORT_DAY = date(1970, 1, 1)
LAST_REPORT_DAY = date(9999, 12, 1)


def parse_range(branch: Branch, first: str | None, last: str | None) -> tuple[date, date]:
    """The day range asked for; today when nothing is given. Refuses reversed or huge ranges."""
    last_day = parse_day(last) or today(branch)
    first_day = parse_day(first) or last_day
    check_range(first_day, last_day)
    return first_day, last_day


def parse_day(value: str | None) -> date | None:
    """A business day written YYYY-MM-DD (None when not given)."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed("Write dates as YYYY-MM-DD, e.g. 2024-05-31.") from exc


def check_range(first_day: date, last_day: date) -> None:
    """Refuse reversed, huge or out-of-calendar ranges."""
    for day in (first_day, last_day):
        # The report reads a few days either side of the range: at the ends of the calendar that overflows.
        if not FIRST_REPORT_DAY <= day <= LAST_REPORT_DAY:
            raise ValidationFailed(
                f"Reports cover days from {FIRST_REPORT_DAY.isoformat()} to {LAST_REPORT_DAY.isoformat()}; "
                f"{day.isoformat()} is outside."
            )
    if first_day > last_day:
        raise ValidationFailed("The first day comes after the last day; swap them.")
    if (last_day - first_day).days >= MAX_RANGE_DAYS:
        raise ValidationFailed(f"A report covers at most {MAX_RANGE_DAYS} days.")


# -- SQL pieces (SQLite and PostgreSQL) -----------------------------------------------------------------

Stamp = InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None]
Offsets = list[tuple[datetime, int]]


def _sqlite_micros(start: Stamp, end: Stamp) -> ColumnElement[int]:
    """end - start in whole microseconds, exactly. SQLite holds 'YYYY-MM-DD HH:MM:SS.ffffff' text (SQLAlchemy
    always writes the six digits); julianday() keeps milliseconds only, so it gets the first three decimals
    and the last three are subtracted as digits. (strftime('%s') is exact too but costs twice as much.)"""

    def millis(at: Stamp) -> ColumnElement[float]:
        return func.julianday(func.substr(at, 1, 23))

    def sub_millis(at: Stamp) -> ColumnElement[int]:
        return func.substr(at, 24, 3, type_=Integer)  # text, which arithmetic reads as a number

    whole_ms = cast(func.round((millis(end) - millis(start)) * 86_400_000), Integer)
    return whole_ms * 1000 + (sub_millis(end) - sub_millis(start))


def duration_micros(dialect: str, start: Stamp, end: Stamp) -> ColumnElement[int]:
    """max(0, end - start) in microseconds; NULL when either end is NULL."""
    if dialect == "sqlite":
        # SQLite's two-argument max() is NULL when an argument is NULL, and evaluates the difference once.
        return func.max(_sqlite_micros(start, end), 0)
    # The epoch of an interval is an exact numeric, and one extract of an interval is cheaper than two of
    # timestamps. The NULL test comes first: greatest() would turn a NULL difference into 0.
    micros = cast(extract("epoch", end - start) * MICROS, BigInteger)
    return case((and_(start.is_not(None), end.is_not(None)), func.greatest(micros, 0)))


def _local_hour(dialect: str, offsets: Offsets) -> ColumnElement[int]:
    """The hour of issued_at on the branch's clock, given the zone's UTC offsets over the range."""
    offset: ColumnElement[int] | int = offsets[0][1]
    if len(offsets) > 1:
        offset = case(
            *((Ticket.issued_at < since, off) for (_, off), (since, _) in pairwise(offsets)),
            else_=offsets[-1][1],
        )
    if dialect == "sqlite":
        # Seconds since midnight UTC from the stored text; cheaper than any date function per row.
        seconds = (
            cast(func.substr(Ticket.issued_at, 12, 2), Integer) * 3600
            + cast(func.substr(Ticket.issued_at, 15, 2), Integer) * 60
            + cast(func.substr(Ticket.issued_at, 18, 2), Integer)
        )
        return (seconds + offset + 86_400) // 3600 % 24
    local = func.timezone("UTC", Ticket.issued_at) + func.make_interval(0, 0, 0, 0, 0, 0, offset)
    return cast(extract("hour", local), Integer)


def utc_offsets(zone: ZoneInfo, start: datetime, end: datetime) -> Offsets:
    """[(from, offset seconds), …] covering start..end: the zone's UTC offset from each instant on (the first
    piece also before it). One piece unless the span crosses a daylight-saving change."""

    def offset(at: int) -> int:
        utc_offset = datetime.fromtimestamp(at, UTC).astimezone(zone).utcoffset()
        assert utc_offset is not None
        return int(utc_offset.total_seconds())

    pieces = [(start, offset(math.floor(start.timestamp())))]
    step = 6 * 3600  # zones change their offset months apart, never twice in six hours
    at, stop = math.floor(start.timestamp()), math.ceil(end.timestamp())
    while at < stop:
        nxt = min(at + step, stop)
        if offset(nxt) != pieces[-1][1]:
            lo, hi = at, nxt  # offset(lo) is the old one, offset(hi) the new; zones change on whole seconds
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(mid) == pieces[-1][1] else (lo, mid)
            pieces.append((datetime.fromtimestamp(hi, UTC), offset(hi)))
        at = nxt
    return pieces


def _tally(session: Session, dialect: str, in_range: Sequence[ColumnElement[bool]], offsets: Offsets) -> list[Any]:
    """One pass over the range. Per (service, staff member, local hour): tickets by status, the first and
    last issue time, and every wait and service time as a comma-separated list of microseconds — a few
    hundred rows whatever the range, and each ticket's dates are read once."""
    wait = duration_micros(dialect, Ticket.issued_at, Ticket.first_called_at)
    served = case((Ticket.status == TicketStatus.done, duration_micros(dialect, Ticket.serving_at, Ticket.finished_at)))
    rows = (
        select(
            Ticket.service_id,
            Ticket.staff_id,
            Ticket.status,
            Ticket.issued_at,
            _local_hour(dialect, offsets).label("hour"),
            wait.label("wait"),
            served.label("served"),
        )
        .where(*in_range)
        .subquery()
    )

    def listed(column: ColumnElement[int]) -> ColumnElement[str]:
        if dialect == "sqlite":
            return func.group_concat(column, type_=String)
        return func.string_agg(cast(column, String), ",")

    counted = (
        func.count(),
        func.count().filter(rows.c.status == TicketStatus.done),
        func.count().filter(rows.c.status == TicketStatus.no_show),
        func.count().filter(rows.c.status == TicketStatus.cancelled),
        func.count().filter(rows.c.status == TicketStatus.expired),
    )
    return list(
        session.connection().execute(
            select(
                rows.c.service_id,
                rows.c.staff_id,
                rows.c.hour,
                *counted,
                func.min(rows.c.issued_at),
                func.max(rows.c.issued_at),
                listed(rows.c.wait),
                listed(rows.c.served),
            ).group_by(rows.c.service_id, rows.c.staff_id, rows.c.hour)
        )
    )


CHANNELS = ("kiosk", "staff", "remote")


def _by_channel(session: Session, dialect: str, in_range: Sequence[ColumnElement[bool]]) -> list[tuple[str, Any]]:
    """Counts, waits and service times per channel (one grouped query, a row per channel)."""
    wait = duration_micros(dialect, Ticket.issued_at, Ticket.first_called_at)
    served = case((Ticket.status == TicketStatus.done, duration_micros(dialect, Ticket.serving_at, Ticket.finished_at)))
    rows = select(Ticket.channel, wait.label("wait"), served.label("served"), Ticket.status).where(*in_range).subquery()

    def listed(column: ColumnElement[int]) -> ColumnElement[str]:
        if dialect == "sqlite":
            return func.group_concat(column, type_=String)
        return func.string_agg(cast(column, String), ",")

    found = {
        channel: Timing(issued, done, no_show, cancelled, _micros(waits), _micros(served_list))
        for channel, issued, done, no_show, cancelled, waits, served_list in session.connection().execute(
            select(
                rows.c.channel,
                func.count(),
                func.count().filter(rows.c.status == TicketStatus.done),
                func.count().filter(rows.c.status == TicketStatus.no_show),
                func.count().filter(rows.c.status == TicketStatus.cancelled),
                listed(rows.c.wait),
                listed(rows.c.served),
            ).group_by(rows.c.channel)
        )
    }
    return [(c, found.get(c, Timing()).summary()) for c in (*CHANNELS, *sorted(set(found) - set(CHANNELS)))]


def _micros(listed: str | None) -> list[int]:
    """A group's durations, sorted (sorted runs make the per-service and per-staff sorts cheap merges)."""
    return sorted(map(int, listed.split(","))) if listed else []


# The hours every hourly chart shows, busy or not (a quiet morning shows as empty bars, not as a missing one, and
# two reports line up); hours with tickets outside them widen the span.
WORKING_DAY = (8, 18)


def day_hours(busy_hours: list[int], *, rollover: int) -> list[int]:
    """The local hours of the hourly axis in business-day order (the day starts at the rollover hour, so a
    ticket at 01:00 after a late evening comes last, not first): the working day, widened to every busy hour."""

    def place(hour: int) -> int:
        return (hour - rollover) % 24

    places = [place(h) for h in busy_hours] + [place(WORKING_DAY[0]), place(WORKING_DAY[1] - 1)]
    return [(rollover + p) % 24 for p in range(min(places), max(places) + 1)]


def build_report(session: Session, *, first_day: date, last_day: date, branch_id: int | None = None) -> Report:
    """Everything the report page and the CSV show for the business days first_day..last_day (inclusive)."""
    branch = get_branch(session, branch_id)
    dialect = session.get_bind().dialect.name
    zone = ZoneInfo(branch.timezone)
    services = list(
        session.scalars(select(Service).where(Service.branch_id == branch.id).order_by(Service.sort_order, Service.id))
    )
    staff_names = {u.id: u.full_name or u.username for u in session.scalars(select(StaffUser))}
    counter_names = {c.id: c.name for c in session.scalars(select(Counter).where(Counter.branch_id == branch.id))}
    in_range = (Ticket.branch_id == branch.id, Ticket.business_day >= first_day, Ticket.business_day <= last_day)

    # A business day's tickets are issued within a day and a half of its UTC midnight, whatever the zone and
    # rollover hour; if some were not (the branch changed its time zone), count again over their own span.
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC) - timedelta(days=2)
    end = datetime(last_day.year, last_day.month, last_day.day, tzinfo=UTC) + timedelta(days=3)
    groups = _tally(session, dialect, in_range, utc_offsets(zone, start, end))
    if groups:
        first_issued, last_issued = min(g[8] for g in groups), max(g[9] for g in groups)
        if first_issued < start or last_issued > end:
            groups = _tally(session, dialect, in_range, utc_offsets(zone, first_issued, last_issued))

    by_service: dict[int, Timing] = {s.id: Timing() for s in services}
    by_staff: dict[int | None, Timing] = defaultdict(Timing)  # None: tickets nobody called, dropped below
    per_service_hour: dict[int, dict[int, int]] = defaultdict(dict)
    for service_id, staff_id, hour, issued, done, no_show, cancelled, expired, _, _, waits, served in groups:
        group = Timing(issued, done, no_show, cancelled, _micros(waits), _micros(served), expired)
        by_service.setdefault(service_id, Timing()).add(group)
        by_staff[staff_id].add(group)
        per_service_hour[service_id][hour] = per_service_hour[service_id].get(hour, 0) + issued
    by_staff.pop(None, None)
    total = Timing()
    for timing in by_service.values():
        total.add(timing)

    busy_hours = sorted({h for hours in per_service_hour.values() for h in hours})
    tickets = select(Ticket).where(*in_range).order_by(Ticket.issued_at, Ticket.id)
    return Report(
        branch=branch,
        first_day=first_day,
        last_day=last_day,
        services=services,
        tickets=TicketRows(session, tickets, total.issued),
        hours=day_hours(busy_hours, rollover=branch.day_rollover_hour) if busy_hours else [],
        per_service_hour=dict(per_service_hour),
        per_service=[(s, by_service[s.id].summary()) for s in services],
        per_staff=sorted(
            ((staff_names.get(sid, f"#{sid}"), t.summary()) for sid, t in by_staff.items() if sid is not None),
            key=lambda r: r[0],
        ),
        total=total.summary(),
        staff_names=staff_names,
        counter_names=counter_names,
        per_channel=_by_channel(session, dialect, in_range),
    )


# -- CSV -----------------------------------------------------------------------------------------------

CSV_KINDS = ("tickets", "services", "staff", "hourly", "channels")


def _fmt(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat(timespec="seconds") if value else ""


def report_csv(report: Report, kind: str) -> str:
    """One of CSV_KINDS as CSV text (times in the branch's time zone, durations in seconds)."""
    if kind not in CSV_KINDS:
        raise ValidationFailed(f"Unknown CSV {kind!r}; choose one of {', '.join(CSV_KINDS)}.")
    out = io.StringIO()
    writer = SafeCsvWriter(out)  # names are typed by managers: no cell may become a formula
    zone = ZoneInfo(report.branch.timezone)
    names = {s.id: s.name for s in report.services}
    summary_header = [
        "issued", "done", "no_show", "cancelled", "expired", "no_show_rate",
        "wait_avg_s", "wait_p90_s", "service_avg_s", "service_p90_s",
    ]  # fmt: skip

    def summary_row(data: dict[str, Any]) -> list[Any]:
        return [
            data["issued"], data["done"], data["no_show"], data["cancelled"], data["expired"],
            _fmt(data["no_show_rate"], 4),
            _fmt(data["wait_avg"]), _fmt(data["wait_p90"]), _fmt(data["service_avg"]), _fmt(data["service_p90"]),
        ]  # fmt: skip

    if kind == "tickets":
        writer.writerow([
            "business_day", "number", "service", "status", "priority", "priority_category", "issued_at",
            "first_called_at", "serving_at", "finished_at", "wait_s", "service_s", "counter", "staff", "transfers",
        ])  # fmt: skip
        for t in report.tickets:
            writer.writerow([
                t.business_day.isoformat(), t.number, names.get(t.service_id, ""), t.status, int(t.priority),
                t.priority_category or "", _local(t.issued_at, zone), _local(t.first_called_at, zone),
                _local(t.serving_at, zone), _local(t.finished_at, zone), _fmt(wait_seconds(t), 0),
                _fmt(service_seconds(t), 0),
                report.counter_names.get(t.counter_id, "") if t.counter_id else "",
                report.staff_names.get(t.staff_id, "") if t.staff_id else "", t.transfer_count,
            ])  # fmt: skip
    elif kind == "services":
        writer.writerow(["service", "prefix", *summary_header])
        for s, data in report.per_service:
            writer.writerow([s.name, s.prefix, *summary_row(data)])
        writer.writerow(["All services", "", *summary_row(report.total)])
    elif kind == "channels":
        writer.writerow(["channel", *summary_header])
        for channel, data in report.per_channel:
            writer.writerow([channel, *summary_row(data)])
    elif kind == "staff":
        # Per staff member the count is of tickets they called last ("handled"), not of tickets issued.
        writer.writerow(["staff", "handled", *summary_header[1:]])
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
