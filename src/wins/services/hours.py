"""When a service takes tickets: its weekly opening hours (schemas.ServiceHours, stored in `services.hours`), the
branch's holidays, and the last-ticket cut-off. Pure functions of the stored values and the time, so issuing can
decide from its per-process cache (wins.tickets.caches) without a query, and the kiosk list says the same thing.

No hours = open at any time (every service before issue 13) except on the branch's holidays. Intervals are local
wall-clock times in the branch's time zone; a day that is not listed, or a holiday, is closed all day."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from wins.errors import ServiceClosed
from wins.schemas import WEEKDAYS, ServiceHours

LOOK_AHEAD_DAYS = 21  # how far ahead `opens_at` looks for the next opening (three weeks of holidays)


@dataclass(frozen=True)
class OpeningHours:
    """ServiceHours as numbers: per weekday (Monday first) the (opens, closes) minutes after local midnight."""

    weekly: tuple[tuple[tuple[int, int], ...], ...]
    last_ticket_minutes: int
    stop_when_wait_exceeds_time_left: bool


@dataclass(frozen=True)
class OpenState:
    """Whether a service takes tickets at a moment, and the times a kiosk shows."""

    open_now: bool  # takes tickets now (within an interval and before its last-ticket time)
    opens_at: datetime | None  # when not open: the next moment it takes tickets (None: nothing scheduled soon)
    closes_at: datetime | None  # when open: the end of the current interval
    last_ticket_at: datetime | None  # when open: the moment it stops taking tickets (closes_at - cut-off)
    within_cutoff: bool = False  # closed only because the last-ticket time has passed


ALWAYS_OPEN = OpenState(True, None, None, None)


def _minutes(clock_time: str) -> int:
    hours, minutes = clock_time.split(":")
    return int(hours) * 60 + int(minutes)


def opening_hours(stored: dict[str, Any] | None) -> OpeningHours | None:
    """The stored `services.hours` as OpeningHours; None (open at any time) when there are none."""
    if stored is None:
        return None
    hours = ServiceHours.model_validate(stored)
    weekly = tuple(
        tuple(sorted((_minutes(i.opens), _minutes(i.closes)) for i in hours.weekly.get(day, []))) for day in WEEKDAYS
    )
    return OpeningHours(weekly, hours.last_ticket_minutes, hours.stop_when_wait_exceeds_time_left)


def holiday_dates(values: Iterable[str]) -> frozenset[date]:
    return frozenset(date.fromisoformat(v) for v in values)


def _at(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=minutes)


def _intervals(hours: OpeningHours, holidays: frozenset[date], start: date, zone: ZoneInfo) -> Iterable[Any]:
    for offset in range(LOOK_AHEAD_DAYS + 1):
        day = start + timedelta(days=offset)
        if day in holidays:
            continue
        for opens, closes in hours.weekly[day.weekday()]:
            # Wall-clock times: a DST change inside an interval shifts it by the hour, as staff expect.
            yield _at(day, opens, zone), _at(day, closes, zone)


def takes_tickets(hours: OpeningHours | None, holidays: frozenset[date], *, now: datetime, timezone: str) -> bool:
    """`open_state(...).open_now`, fast (a few µs: it runs on every tap): wall-clock minutes against today's
    intervals, no datetime built. The same rule; tests/test_service_hours.py checks both agree."""
    if hours is None and not holidays:
        return True
    local = now.astimezone(_zone(timezone))
    day = local.date()
    if day in holidays:
        return False
    if hours is None:
        return True
    minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
    cutoff = hours.last_ticket_minutes
    return any(opens <= minute < closes - cutoff for opens, closes in hours.weekly[day.weekday()])


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def open_state(hours: OpeningHours | None, holidays: frozenset[date], *, now: datetime, timezone: str) -> OpenState:
    """Whether the service takes tickets at `now` and when it opens or closes (times in the branch's zone)."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    if hours is None:  # open at any time, except on the branch's holidays
        if local.date() not in holidays:
            return ALWAYS_OPEN
        day = local.date()
        while day in holidays:
            day += timedelta(days=1)
        return OpenState(False, _at(day, 0, zone), None, None)
    cutoff = timedelta(minutes=hours.last_ticket_minutes)
    in_cutoff = False
    for opens, closes in _intervals(hours, holidays, local.date(), zone):  # in time order
        if opens <= local < closes:
            if local < closes - cutoff:
                return OpenState(True, None, closes, closes - cutoff)
            in_cutoff = True
        elif opens > local and closes - cutoff > opens:  # the next interval that leaves time for a ticket
            return OpenState(False, opens, None, None, within_cutoff=in_cutoff)
    return OpenState(False, None, None, None, within_cutoff=in_cutoff)


def _when(moment: datetime, now: datetime) -> str:
    """ "14:00" today, else "Mon 1 Dec at 08:00" (the branch's local time, as on the kiosk)."""
    if moment.date() == now.astimezone(moment.tzinfo).date():
        return moment.strftime("%H:%M")
    return f"{moment.strftime('%a')} {moment.day} {moment.strftime('%b')} at {moment.strftime('%H:%M')}"


def _opens_again(state: OpenState, now: datetime) -> str:
    if state.opens_at is None:
        return "No opening is scheduled in the next three weeks; please ask at the desk."
    return f"It takes tickets again at {_when(state.opens_at, now)}."


def closed_refusal(name: str, state: OpenState, *, now: datetime, minutes: int = 0) -> ServiceClosed:
    """The refusal of a tap while `state` says closed (outside the hours, a holiday, or past the last-ticket time)."""
    opens_at = state.opens_at.isoformat() if state.opens_at else None
    if state.within_cutoff:
        message = f"{name} has stopped taking tickets ({minutes} min before closing); those waiting are still served."
    else:
        message = f"{name} is closed now."
    return ServiceClosed(f"{message} {_opens_again(state, now)}", opens_at=opens_at)


def too_late_refusal(
    name: str, hours: OpeningHours, holidays: frozenset[date], *, now: datetime, timezone: str, closes_at: datetime
) -> ServiceClosed:
    """The refusal when a new ticket's estimated wait runs past the closing time (stop_when_wait_exceeds_time_left)."""
    after = open_state(hours, holidays, now=closes_at, timezone=timezone)
    return ServiceClosed(
        f"The queue for {name} is already longer than the time left before it closes at {_when(closes_at, now)}. "
        f"{_opens_again(after, now)}",
        opens_at=after.opens_at.isoformat() if after.opens_at else None,
    )


# -- the admin page's one-line form of the weekly hours ---------------------------------------------------------
# "mon-fri 08:00-12:00, 13:00-17:00; sat 09:00-12:00": typed with the keyboard, read back the same way.
_DAY_INDEX = {day: i for i, day in enumerate(WEEKDAYS)}
TEXT_EXAMPLE = "mon-fri 08:00-12:00, 13:00-17:00; sat 09:00-12:00"


def _days(spec: str) -> list[str]:
    days: list[str] = []
    for part in spec.split(","):
        first, _, last = part.strip().lower().partition("-")
        if first not in _DAY_INDEX or (last and last not in _DAY_INDEX):
            raise ValueError(f"{part.strip()!r} is not a day or a range of days (mon … sun, like mon-fri)")
        start, end = _DAY_INDEX[first], _DAY_INDEX[last or first]
        if end < start:
            raise ValueError(f"{part.strip()!r} runs backwards; write the days in week order (mon-fri)")
        days += WEEKDAYS[start : end + 1]
    return days


def weekly_from_text(text: str) -> dict[str, list[dict[str, str]]]:
    """The weekly hours of ServiceHours from the one-line form (ValueError says what is wrong, with an example)."""
    weekly: dict[str, list[dict[str, str]]] = {}
    for entry in text.replace("\n", ";").split(";"):
        if not entry.strip():
            continue
        days, _, times = entry.strip().partition(" ")
        intervals = []
        for span in times.split(","):
            opens, _, closes = span.strip().partition("-")
            if not opens or not closes:
                raise ValueError(f"{entry.strip()!r}: write each interval as HH:MM-HH:MM, like {TEXT_EXAMPLE!r}")
            intervals.append({"opens": opens.strip(), "closes": closes.strip()})
        for day in _days(days):
            weekly.setdefault(day, []).extend(intervals)
    return weekly


def weekly_text(stored: dict[str, Any] | None) -> str:
    """The stored weekly hours in the one-line form (days with the same intervals grouped: mon-fri …)."""
    if not stored:
        return ""
    weekly = stored.get("weekly", {})
    spans = [", ".join(f"{i['opens']}-{i['closes']}" for i in weekly.get(day, [])) for day in WEEKDAYS]
    parts: list[str] = []
    start = 0
    for i in range(1, len(WEEKDAYS) + 1):
        if i == len(WEEKDAYS) or spans[i] != spans[start]:
            if spans[start]:
                days = WEEKDAYS[start] if i - 1 == start else f"{WEEKDAYS[start]}-{WEEKDAYS[i - 1]}"
                parts.append(f"{days} {spans[start]}")
            start = i
    return "; ".join(parts)
