"""The one source of "now". Tests freeze it with `clock.freeze(...)`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_frozen: datetime | None = None


def utcnow() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC)


def freeze(at: datetime | None) -> None:
    """Freeze the clock at `at` (aware datetime), or unfreeze with None."""
    global _frozen
    if at is not None and at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen = at


def advance(delta: timedelta) -> None:
    global _frozen
    _frozen = utcnow() + delta


def business_day(at: datetime, *, timezone: str, rollover_hour: int = 0) -> date:
    """The business day `at` belongs to, in the branch's time zone, starting at `rollover_hour` local time."""
    local = at.astimezone(ZoneInfo(timezone))
    return (local - timedelta(hours=rollover_hour)).date()


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
