"""Per-process caches on the issue path: a service's facts (name, prefix, active, branch time zone, opening hours
and holidays) and its load (mean service time, open and idle counters) for the wait estimate. Exact within the
process: any committed write that is not a plain issue empties them (a listener on WINS's sessions); another
worker's change shows within a second."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from wins import clock, db_flags
from wins.branches.models import Branch
from wins.branches.service import branch_settings
from wins.config import Settings
from wins.db import WinsSession
from wins.errors import NotFound
from wins.services.hours import OpeningHours, holiday_dates, opening_hours
from wins.services.models import Service
from wins.tickets import estimate as est

# -- wait-estimate inputs, cached ------------------------------------------------------------------------
# A service's load (mean service time, open and idle counters) costs three queries, is needed by every issued
# ticket, and changes only when a ticket is called or finished or a counter changes. So each process keeps it
# until its next committed write that is not a plain issue (exact within the process), and at most
# LOAD_CACHE_SECONDS (how stale it can be after a change made by another worker process).
LOAD_CACHE_SECONDS = 1.0
_load_cache: dict[tuple[Any, int, int, int, int], tuple[float, int, est.ServiceLoad]] = {}
_load_generation = [0]


@event.listens_for(WinsSession, "after_commit")
def _forget_loads(session: Session) -> None:
    if db_flags.is_read_only(session):
        return
    if db_flags.take_load_neutral(session):
        return
    _load_generation[0] += 1


def _load_key(url: Any, service_id: int, settings: Settings) -> tuple[Any, int, int, int, int]:
    # The load also looks at recent calls, so the key includes the (freezable) clock in 10 s steps.
    return (
        url,
        service_id,
        settings.estimate_sample_size,
        settings.default_service_seconds,
        int(clock.utcnow().timestamp() // 10),
    )


def cached_service_load(url: Any, service_id: int, *, settings: Settings) -> est.ServiceLoad | None:
    """The cached load of a service of the database at `url` (an engine's URL), or None."""
    hit = _load_cache.get(_load_key(url, service_id, settings))
    if hit is not None and hit[0] > time.monotonic() and hit[1] == _load_generation[0]:
        return hit[2]
    return None


def service_load(session: Session, service_id: int, *, settings: Settings) -> est.ServiceLoad:
    url = session.get_bind().engine.url
    load = cached_service_load(url, service_id, settings=settings)
    if load is not None:
        return load
    generation = _load_generation[0]
    load = est.service_load(
        session, service_id, sample_size=settings.estimate_sample_size, default_seconds=settings.default_service_seconds
    )
    if len(_load_cache) > 1000:
        _load_cache.clear()
    _load_cache[_load_key(url, service_id, settings)] = (time.monotonic() + LOAD_CACHE_SECONDS, generation, load)
    return load


# -- issuing ------------------------------------------------------------------------------------------
# Issuing is the hottest path (every kiosk tap, and bursts when a bus unloads), so it is written as a few Core
# statements instead of ORM objects (docs/performance.md measured ~4 ms of CPU per ticket through the ORM):
#   [SELECT by Idempotency-Key] -> one upsert on ticket_sequences that hands out the number AND returns how many
#   wait already (so the place in the queue needs no COUNT over a queue that may hold thousands) -> INSERT ticket
#   -> INSERT event. The service and its branch come from a per-process cache (below).


@dataclass(frozen=True)
class ServiceInfo:
    """What issuing needs to know about a service and its branch."""

    id: int
    branch_id: int
    name: str
    prefix: str
    active: bool
    timezone: str
    rollover_hour: int
    # When it takes tickets (wins.services.hours): None = at any time; the branch's holidays close it.
    hours: OpeningHours | None = None
    holidays: frozenset[date] = frozenset()


SERVICE_CACHE_SECONDS = 1.0
_service_cache: dict[tuple[Any, int], tuple[float, int, ServiceInfo]] = {}


def cached_service_info(url: Any, service_id: int) -> ServiceInfo | None:
    """The cached ServiceInfo of a service of the database at `url` (an engine's URL), or None."""
    # Exact within the process (any committed change other than a plain issue empties it, like the load cache);
    # another worker's edit (a service switched off) shows within SERVICE_CACHE_SECONDS.
    hit = _service_cache.get((url, service_id))
    if hit is not None and hit[0] > time.monotonic() and hit[1] == _load_generation[0]:
        return hit[2]
    return None


def service_info(session: Session, service_id: int) -> ServiceInfo:
    url = session.get_bind().engine.url
    info = cached_service_info(url, service_id)
    if info is not None:
        return info
    generation = _load_generation[0]
    row = session.execute(
        select(Service, Branch).join(Branch, Branch.id == Service.branch_id).where(Service.id == service_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"Service {service_id} does not exist.")
    service, branch = row
    info = ServiceInfo(
        service.id,
        branch.id,
        service.name,
        service.prefix,
        service.active,
        branch.timezone,
        branch.day_rollover_hour,
        opening_hours(service.hours),
        holiday_dates(branch_settings(branch).holidays),
    )
    if len(_service_cache) > 1000:
        _service_cache.clear()
    _service_cache[(url, service_id)] = (time.monotonic() + SERVICE_CACHE_SECONDS, generation, info)
    return info
