"""How good is the waiting-time estimate? Replays busy days through the real queue engine and compares the
wait each customer was shown when the ticket was issued with the wait they actually had.

    .venv/bin/python bench/estimate_accuracy.py                  # 5 days, seed 1
    .venv/bin/python bench/estimate_accuracy.py --days 10 --seed 7

The days are simulated, the code is not: a real SQLite file (migrated), tickets issued, called, started and
completed with `wins.tickets` (issuing, calling, transitions), counters opened and closed with
`wins.counters.service`, the estimate read with `ticket_view` exactly as the kiosk and the tracking page get it,
and the clock frozen and moved with `wins.clock.freeze/advance`.

The day (08:00–17:00): arrivals are a Poisson process whose rate climbs from 20/h to a 60/h midday peak; 70 %
want "General" (A), 30 % "Payments" (B); service times are lognormal (A: median 4 min, B: median 6 min);
a called customer needs 15–60 s to walk up; 4 counters (1: A then B, 2: A, 3 and 4: B then A) each close
for a 45-minute lunch break around midday; now and then (3 %) a customer does not come (no-show after 1 min).
Prints the mean absolute error, the share of customers called inside the range they were shown, and the
mean width of that range.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import logging
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

from common import SECRET, database, machine  # noqa: E402

from wins import clock  # noqa: E402
from wins.auth import Principal  # noqa: E402
from wins.branches.service import create_branch  # noqa: E402
from wins.config import Settings  # noqa: E402
from wins.counters.service import close_counter, create_counter, open_counter  # noqa: E402
from wins.db import Database  # noqa: E402
from wins.devices.models import DeviceKind  # noqa: E402
from wins.devices.service import create_device  # noqa: E402
from wins.services.service import create_service  # noqa: E402
from wins.staff.models import Role, StaffUser  # noqa: E402
from wins.staff.service import create_user  # noqa: E402
from wins.tickets import calling, issuing, transitions, views  # noqa: E402
from wins.tickets import estimate as est  # noqa: E402

OPEN_H, CLOSE_H = 8, 17
SERVICES = {"A": ("General", 0.7, 240.0, 0.5), "B": ("Payments", 0.3, 360.0, 0.55)}  # share, median s, sigma
COUNTERS = {"1": ["A", "B"], "2": ["A"], "3": ["B", "A"], "4": ["B", "A"]}
LUNCH = {"1": (11.5, 12.25), "2": (12.0, 12.75), "3": (12.5, 13.25), "4": (13.0, 13.75)}  # hours
NO_SHOW = 0.03


def arrival_rate(hour: float) -> float:
    """Customers per hour at `hour` (local): a base load with a midday peak."""
    return 20.0 + 40.0 * math.exp(-(((hour - 12.25) / 1.3) ** 2))


@dataclass
class Shown:
    service: str
    issued: datetime
    seconds: int
    low: int
    high: int
    ahead: int
    called: datetime | None = None


@dataclass
class Day:
    shown: dict[int, Shown] = field(default_factory=dict)


def simulate_day(
    db: Database, settings: Settings, ids: dict[str, dict[str, int]], day: datetime, rng: random.Random
) -> Day:
    """One business day; returns what each customer was shown and when they were called."""
    result = Day()
    events: list[tuple[datetime, int, str, str]] = []  # (when, tiebreak, kind, arg)
    seq = itertools.count()

    def at(when: datetime, kind: str, arg: str = "") -> None:
        heapq.heappush(events, (when, next(seq), kind, arg))

    start, close = day.replace(hour=OPEN_H), day.replace(hour=CLOSE_H)
    # Arrivals: a non-homogeneous Poisson process by thinning.
    peak = max(arrival_rate(h / 10) for h in range(OPEN_H * 10, CLOSE_H * 10))
    t = start
    while True:
        t += timedelta(hours=rng.expovariate(peak))
        if t >= close:
            break
        hour = t.hour + t.minute / 60
        if rng.random() < arrival_rate(hour) / peak:
            at(t, "arrive", "A" if rng.random() < SERVICES["A"][1] else "B")
    for name, (leave, back) in LUNCH.items():
        at(start + timedelta(seconds=rng.uniform(0, 120)), "open", name)
        at(day.replace(hour=0) + timedelta(hours=leave), "lunch", name)
        at(day.replace(hour=0) + timedelta(hours=back), "open", name)

    staff = {name: Principal(staff=_staff(db, ids["staff"][name])) for name in COUNTERS}
    kiosk = Principal(device=_kiosk(db))
    busy: dict[str, bool] = {name: False for name in COUNTERS}
    closed: dict[str, bool] = {name: True for name in COUNTERS}
    on_lunch: dict[str, bool] = {name: False for name in COUNTERS}

    def call(name: str, now: datetime) -> None:
        """Counter `name` finishes its customer and calls the next one (or goes idle)."""
        with db.session() as session:
            ticket = calling.call_next(session, counter_id=ids["counters"][name], actor=staff[name])
            if ticket is None:
                busy[name] = False
                return
            busy[name] = True
            shown = result.shown.get(ticket.id)
            if shown is not None and shown.called is None:
                shown.called = now
            ticket_id = ticket.id
        if rng.random() < NO_SHOW:
            at(now + timedelta(seconds=60), "no_show", f"{name}:{ticket_id}")
            return
        walk = rng.uniform(15, 60)
        service = SERVICES[_service_of(ids, db, ticket_id)]
        length = rng.lognormvariate(math.log(service[2]), service[3])
        at(now + timedelta(seconds=walk), "start", str(ticket_id))
        at(now + timedelta(seconds=walk + length), "free", name)

    while events:
        when, _, kind, arg = heapq.heappop(events)
        clock.freeze(when)
        if kind == "arrive":
            with db.session() as session:
                ticket, _ = issuing.issue_ticket(session, service_id=ids["services"][arg], actor=kiosk)
                view = views.ticket_view(session, ticket, settings=settings)
                low, high = view["estimated_wait_range"]
                result.shown[ticket.id] = Shown(
                    arg, when, view["estimated_wait_seconds"], low, high, view["people_ahead"]
                )
            for name, served in COUNTERS.items():
                if arg in served and not busy[name] and not closed[name]:
                    call(name, when)
                    break
        elif kind == "start":
            with db.session() as session:
                ticket = views.get_ticket(session, int(arg))
                if ticket.status == "called":
                    transitions.transition(session, ticket_id=ticket.id, action="start", actor=staff["1"])
        elif kind == "no_show":
            name, ticket_id = arg.split(":")
            with db.session() as session:
                transitions.transition(session, ticket_id=int(ticket_id), action="no-show", actor=staff[name])
            at(when, "free", name)
        elif kind == "free":
            if on_lunch[name := arg]:
                with db.session() as session:
                    _finish(session, ids["counters"][name], staff[name])
                    close_counter(session, ids["counters"][name], actor=None)
                busy[name], closed[name] = False, True
            elif when < close + timedelta(hours=3):
                call(name, when)
        elif kind == "lunch":
            on_lunch[arg] = True
            if not busy[arg]:
                with db.session() as session:
                    close_counter(session, ids["counters"][arg], actor=None)
                closed[arg] = True
        elif kind == "open":
            on_lunch[arg] = False
            with db.session() as session:
                user = session.get(StaffUser, ids["staff"][arg])
                assert user is not None
                open_counter(session, ids["counters"][arg], staff=user, actor=None)
            closed[arg] = False
            if not busy[arg]:
                call(arg, when)
    # Whoever is still waiting after closing time is served after hours (the loop runs until the queue is empty).
    return result


def _finish(session: object, counter_id: int, actor: Principal) -> None:
    """Complete what the counter holds before it closes for lunch."""
    from sqlalchemy import select

    from wins.tickets.models import HELD, Ticket

    assert hasattr(session, "scalars")
    for ticket in session.scalars(select(Ticket).where(Ticket.counter_id == counter_id, Ticket.status.in_(HELD))):
        transitions.transition(session, ticket_id=ticket.id, action="complete", actor=actor)  # type: ignore[arg-type]


_service_cache: dict[int, str] = {}


def _service_of(ids: dict[str, dict[str, int]], db: Database, ticket_id: int) -> str:
    if ticket_id not in _service_cache:
        with db.session(write=False) as session:
            service_id = views.get_ticket(session, ticket_id).service_id
        _service_cache[ticket_id] = next(k for k, v in ids["services"].items() if v == service_id)
    return _service_cache[ticket_id]


def _staff(db: Database, user_id: int) -> StaffUser:
    with db.session(write=False) as session:
        user = session.get(StaffUser, user_id)
        assert user is not None
        session.expunge(user)
        return user


def _kiosk(db: Database) -> object:
    from sqlalchemy import select

    from wins.devices.models import Device

    with db.session(write=False) as session:
        device = session.scalar(select(Device).where(Device.kind == DeviceKind.kiosk))
        assert device is not None
        session.expunge(device)
        return device


def setup(db: Database) -> dict[str, dict[str, int]]:
    ids: dict[str, dict[str, int]] = {"services": {}, "counters": {}, "staff": {}}
    with db.session() as session:
        create_branch(session, name="Simulated branch", timezone="UTC")
        for prefix, (name, *_rest) in SERVICES.items():
            ids["services"][prefix] = create_service(session, values={"name": name, "prefix": prefix}, actor=None).id
        for name, served in COUNTERS.items():
            counter = create_counter(session, name=name, service_ids=[ids["services"][p] for p in served], actor=None)
            ids["counters"][name] = counter.id
            user = create_user(
                session, username=f"clerk{name}", password="simulation-only-1", role=Role.staff, actor=None
            )
            ids["staff"][name] = user.id
        create_device(session, name="kiosk", kind=DeviceKind.kiosk, actor=None)
    return ids


def report(days: list[Day], warmup: int) -> dict[str, float]:
    rows = [s for d in days[warmup:] for s in d.shown.values() if s.called is not None]
    errors = [abs((s.called - s.issued).total_seconds() - s.seconds) for s in rows]  # type: ignore[operator]
    inside = [s.low <= (s.called - s.issued).total_seconds() <= s.high for s in rows]  # type: ignore[operator]
    waits = [(s.called - s.issued).total_seconds() for s in rows]  # type: ignore[operator]
    widths = [s.high - s.low for s in rows]
    return {
        "customers": len(rows),
        "mean_wait_min": statistics.fmean(waits) / 60,
        "mae_min": statistics.fmean(errors) / 60,
        "inside_pct": 100 * sum(inside) / len(inside),
        "below_pct": 100 * sum((s.called - s.issued).total_seconds() < s.low for s in rows) / len(rows),  # type: ignore[operator]
        "width_min": statistics.fmean(widths) / 60,
        "bias_min": statistics.fmean(s.seconds - w for s, w in zip(rows, waits, strict=True)) / 60,
    }


def explain(days: list[Day], warmup: int) -> None:
    """Where the range should lie: actual wait / estimate, by people ahead (to tune RANGE_LOW/HIGH)."""
    rows = [s for d in days[warmup:] for s in d.shown.values() if s.called is not None and s.seconds > 0]
    buckets = [(0, 0), (1, 2), (3, 5), (6, 10), (11, 20), (21, 1000)]
    for lo, hi in buckets:
        ratios = sorted(
            (s.called - s.issued).total_seconds() / s.seconds  # type: ignore[operator]
            for s in rows
            if lo <= s.ahead <= hi
        )
        if len(ratios) < 10:
            continue
        q = statistics.quantiles(ratios, n=20)
        print(
            f"  ahead {lo:>2}-{hi:<4} n={len(ratios):<4} actual/estimate  p5 {q[0]:.2f}  p10 {q[1]:.2f}  "
            f"p50 {q[9]:.2f}  p90 {q[17]:.2f}  p95 {q[18]:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--explain", action="store_true", help="quantiles of actual/estimated wait by people ahead")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    with database("sqlite") as url:
        settings = Settings(database_url=url, secret_key=SECRET, log_level="WARNING")
        db = Database(settings)
        ids = setup(db)
        days = []
        first = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
        for n in range(args.days):
            days.append(simulate_day(db, settings, ids, first + timedelta(days=n), rng))
        clock.freeze(None)
        db.dispose()
    warmup = 1 if args.days > 1 else 0
    figures = report(days, warmup)
    by_service = {
        prefix: report([Day({k: v for k, v in d.shown.items() if v.service == prefix}) for d in days], warmup)
        for prefix in SERVICES
    }
    print(f"machine: {machine()}")
    print(f"command: .venv/bin/python bench/estimate_accuracy.py --days {args.days} --seed {args.seed}")
    print(
        f"rule: {est.RULE}  (simulated {args.days} days, first {warmup} as warm-up, "
        f"{time.perf_counter() - started:.0f} s)"
    )
    print(
        f"customers {figures['customers']:.0f}  mean wait {figures['mean_wait_min']:.1f} min  "
        f"mean absolute error {figures['mae_min']:.1f} min  called inside the shown range "
        f"{figures['inside_pct']:.1f} %  (before it {figures['below_pct']:.1f} %)  "
        f"mean range width {figures['width_min']:.1f} min"
    )
    if args.explain:
        explain(days, warmup)
    for prefix, f in by_service.items():
        print(
            f"  {SERVICES[prefix][0]:<9} customers {f['customers']:.0f}  mean wait {f['mean_wait_min']:.1f} min  "
            f"MAE {f['mae_min']:.1f} min  bias {f['bias_min']:+.1f} min  inside {f['inside_pct']:.1f} %  "
            f"before {f['below_pct']:.1f} %  width {f['width_min']:.1f} min"
        )


if __name__ == "__main__":
    main()
