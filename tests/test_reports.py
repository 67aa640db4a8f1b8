"""The report figures, computed in SQL, against a plain Python computation over the same tickets.

The tickets are written with known times (microseconds, a daylight-saving change, a clock that ran backwards,
transfers, every status) so that every aggregate of the report is pinned down on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
import random
import secrets
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tests.support.seed import Seeded, seed
from wins.branches.models import Branch
from wins.branches.service import create_branch
from wins.config import Settings
from wins.db import Database
from wins.reports.service import build_report, report_csv, utc_offsets
from wins.tickets.models import Ticket, TicketStatus

FIRST, LAST = date(2025, 10, 24), date(2025, 10, 28)  # Paris leaves summer time on 26 October 2025, 03:00


@pytest.fixture
def db(settings: Settings, seeded: Seeded) -> Iterator[Database]:  # noqa: ARG001  (seeded: branch, services, staff)
    database = Database(settings)
    yield database
    database.dispose()


def _ticket(branch: Branch, day: date, seq: int, service_id: int, issued_at: datetime, **fields: Any) -> Ticket:
    return Ticket(
        branch_id=branch.id,
        service_id=service_id,
        issued_service_id=fields.pop("issued_service_id", service_id),
        business_day=day,
        seq=seq,
        number=f"T{seq:03d}",
        tracking_token=secrets.token_urlsafe(24),
        issued_at=issued_at,
        queue_at=issued_at,
        **fields,
    )


def _random_tickets(session: Session, data: Seeded, *, seed: int) -> None:
    """About 400 tickets over FIRST - 1 .. LAST + 1 (the edge days must not count), plus a few in a second
    branch on the same days (which must not count either)."""
    rng = random.Random(seed)
    branch = session.scalars(select(Branch).order_by(Branch.id)).first()
    assert branch is not None
    zone = ZoneInfo(branch.timezone)
    services = list(data.services.values())
    staff = [None, data.users["staff"], data.users["staff2"]]
    seq = 0
    day = FIRST - timedelta(days=1)
    while day <= LAST + timedelta(days=1):
        opening = datetime(day.year, day.month, day.day, 7, tzinfo=zone).astimezone(UTC)
        for _ in range(rng.randint(60, 90)):
            seq += 1
            issued = opening + timedelta(seconds=rng.randint(0, 12 * 3600), microseconds=rng.randint(0, 999_999))
            status = rng.choice(list(TicketStatus))
            service = rng.choice(services)
            fields: dict[str, Any] = {"status": status, "transfer_count": 0}
            if rng.random() < 0.1:  # transferred: counts for the service it ended in
                fields.update(issued_service_id=rng.choice(services), transfer_count=1)
            called = status not in (TicketStatus.waiting,) and not (
                status == TicketStatus.cancelled and rng.random() < 0.5
            )
            if called:
                # Now and then the clock ran backwards (a wait below zero counts as zero).
                wait = rng.choice([-3.5, 0.0]) if rng.random() < 0.03 else rng.uniform(0, 2400)
                first_called = issued + timedelta(seconds=wait, microseconds=rng.randint(0, 999_999))
                fields.update(first_called_at=first_called, called_at=first_called, call_count=1)
                fields["staff_id"] = rng.choice(staff[1:]) if rng.random() < 0.9 else None
                if status in (TicketStatus.serving, TicketStatus.done):
                    # "Done" without "Start serving" sometimes leaves serving_at empty.
                    if not (status == TicketStatus.done and rng.random() < 0.1):
                        fields["serving_at"] = first_called + timedelta(seconds=rng.uniform(5, 60))
                if status in (TicketStatus.done, TicketStatus.no_show, TicketStatus.cancelled):
                    start = fields.get("serving_at", first_called)
                    fields["finished_at"] = start + timedelta(seconds=rng.uniform(-2, 900))
            elif status == TicketStatus.cancelled:
                fields["finished_at"] = issued + timedelta(seconds=rng.uniform(0, 600))
            session.add(_ticket(branch, day, seq, service, issued, **fields))
        day += timedelta(days=1)
    other = create_branch(session, name="Elsewhere", timezone="UTC")
    for i in range(5):
        at = datetime(2025, 10, 25, 10, i, tzinfo=UTC)
        session.add(_ticket(other, FIRST + timedelta(days=1), 10_000 + i, services[0], at, status="waiting"))


def _reference(session: Session, first: date, last: date) -> dict[str, Any]:
    """The report's figures the obvious way: every ticket as an object, aggregated in Python (the pre-SQL
    implementation of build_report)."""
    branch = session.scalars(select(Branch).order_by(Branch.id)).first()
    assert branch is not None
    zone = ZoneInfo(branch.timezone)
    tickets = list(
        session.scalars(select(Ticket).where(Ticket.branch_id == branch.id, Ticket.business_day.between(first, last)))
    )

    def summary(group: list[Ticket]) -> dict[str, Any]:
        waits = [max(0.0, (t.first_called_at - t.issued_at).total_seconds()) for t in group if t.first_called_at]
        served = [
            max(0.0, (t.finished_at - t.serving_at).total_seconds())
            for t in group
            if t.status == TicketStatus.done and t.serving_at and t.finished_at
        ]
        done = sum(t.status == TicketStatus.done for t in group)
        no_show = sum(t.status == TicketStatus.no_show for t in group)

        def p90(values: list[float]) -> float | None:
            return sorted(values)[max(1, math.ceil(0.9 * len(values))) - 1] if values else None

        return {
            "issued": len(group),
            "done": done,
            "no_show": no_show,
            "cancelled": sum(t.status == TicketStatus.cancelled for t in group),
            "expired": sum(t.status == TicketStatus.expired for t in group),
            "no_show_rate": no_show / (done + no_show) if done + no_show else None,
            "wait_avg": sum(waits) / len(waits) if waits else None,
            "wait_p90": p90(waits),
            "service_avg": sum(served) / len(served) if served else None,
            "service_p90": p90(served),
        }

    by_service: dict[int, list[Ticket]] = defaultdict(list)
    by_staff: dict[int, list[Ticket]] = defaultdict(list)
    per_hour: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for t in tickets:
        by_service[t.service_id].append(t)
        if t.staff_id is not None:
            by_staff[t.staff_id].append(t)
        per_hour[t.service_id][t.issued_at.astimezone(zone).hour] += 1
    return {
        "total": summary(tickets),
        "per_service": {sid: summary(group) for sid, group in by_service.items()},
        "per_staff": {sid: summary(group) for sid, group in by_staff.items()},
        "per_service_hour": {sid: dict(hours) for sid, hours in per_hour.items()},
        "count": len(tickets),
    }


@pytest.mark.parametrize("timezone", ["Europe/Paris", "Asia/Kathmandu", "America/St_Johns"])
def test_report_matches_a_plain_python_computation(db: Database, seeded: Seeded, timezone: str) -> None:
    with db.session() as session:
        _random_tickets(session, seeded, seed=7)
        # Hours are local: the branch's zone decides them (Kathmandu is UTC+5:45, St John's -3:30/-2:30).
        session.scalars(select(Branch).order_by(Branch.id)).first().timezone = timezone  # type: ignore[union-attr]
    with db.session(write=False) as session:
        expected = _reference(session, FIRST, LAST)
        report = build_report(session, first_day=FIRST, last_day=LAST)
        assert expected["count"] > 300 and expected["per_staff"] and expected["total"]["wait_p90"]

        assert len(report.tickets) == expected["count"]
        assert report.total == pytest.approx(expected["total"], rel=1e-12)
        assert [s.id for s, _ in report.per_service] == sorted(expected["per_service"])
        for service, figures in report.per_service:
            assert figures == pytest.approx(expected["per_service"][service.id], rel=1e-12)
        names = {seeded.users["staff"]: "staff", seeded.users["staff2"]: "staff2"}
        per_staff: list[Any] = [
            (names[sid], pytest.approx(expected["per_staff"][sid], rel=1e-12)) for sid in sorted(names)
        ]
        assert report.per_staff == per_staff
        assert report.per_service_hour == expected["per_service_hour"]
        busy = sorted({h for hours in expected["per_service_hour"].values() for h in hours})
        # The axis spans the working day (08:00-18:00) widened to every busy hour (rollover at midnight here).
        assert report.hours == list(range(min(busy[0], 8), max(busy[-1], 17) + 1))

        # The per-ticket CSV lists the same tickets, oldest first, with their own durations.
        rows = report_csv(report, "tickets").splitlines()[1:]
        assert len(rows) == expected["count"]
        assert [r.split(",")[1] for r in rows] == [
            t.number
            for t in session.scalars(
                select(Ticket)
                .where(Ticket.branch_id == report.branch.id, Ticket.business_day.between(FIRST, LAST))
                .order_by(Ticket.issued_at, Ticket.id)
            )
        ]


def test_hours_follow_the_branch_clock_across_a_daylight_saving_change(db: Database, seeded: Seeded) -> None:
    """09:30 in Paris is 07:30 UTC on Saturday and 08:30 UTC on Monday: both are the 09:00 hour."""
    paris = ZoneInfo("Europe/Paris")
    service = seeded.services["A"]
    with db.session() as session:
        branch = session.scalars(select(Branch).order_by(Branch.id)).first()
        assert branch is not None
        for seq, day in enumerate((date(2025, 10, 25), date(2025, 10, 27)), start=1):
            at = datetime(day.year, day.month, day.day, 9, 30, tzinfo=paris).astimezone(UTC)
            session.add(_ticket(branch, day, seq, service, at))
        # 02:30 local happens twice on the 26th; the first is summer time (00:30 UTC), the second winter (01:30).
        for seq, utc_hour in ((3, 0), (4, 1)):
            at = datetime(2025, 10, 26, utc_hour, 30, tzinfo=UTC)
            session.add(_ticket(branch, date(2025, 10, 26), seq, service, at))
    with db.session(write=False) as session:
        report = build_report(session, first_day=date(2025, 10, 25), last_day=date(2025, 10, 27))
    assert report.per_service_hour == {service: {9: 2, 2: 2}}
    assert report.hours == list(range(2, 18))  # 02:00 (busy) to the end of the working day, 17:00-18:00
    assert report_csv(report, "hourly").splitlines()[1:3] == ["02:00,2,0,0,2", "03:00,0,0,0,0"]


def test_the_hourly_axis_spans_the_business_day_in_its_order() -> None:
    from wins.reports.service import day_hours

    assert day_hours([10, 11], rollover=0) == list(range(8, 18))  # a quiet day still shows 08:00-18:00
    assert day_hours([6, 19], rollover=0) == list(range(6, 20))
    # A day that rolls over at 04:00: a ticket at 01:00 belongs to the end of the evening, not the morning.
    assert day_hours([9, 1], rollover=4) == [*range(8, 24), 0, 1]


def test_hours_stay_local_for_tickets_issued_far_from_their_business_day(db: Database, seeded: Seeded) -> None:
    """A ticket filed under 30 October but issued on 20 October (summer time) still counts at 09:00 Paris
    time: the offsets are then taken over the tickets' own span, not the days asked for."""
    paris = ZoneInfo("Europe/Paris")
    service = seeded.services["C"]
    with db.session() as session:
        branch = session.scalars(select(Branch).order_by(Branch.id)).first()
        assert branch is not None
        for seq, issued_on in enumerate((date(2025, 10, 20), date(2025, 10, 30)), start=1):
            at = datetime(issued_on.year, issued_on.month, issued_on.day, 9, 30, tzinfo=paris).astimezone(UTC)
            session.add(_ticket(branch, date(2025, 10, 30), seq, service, at))
    with db.session(write=False) as session:
        report = build_report(session, first_day=date(2025, 10, 30), last_day=date(2025, 10, 30))
    assert report.per_service_hour == {service: {9: 2}}


def test_durations_are_exact_to_the_microsecond(db: Database, seeded: Seeded) -> None:
    """A wait of 0.000999 s and a service time of 86,400.000001 s come back exactly (no float rounding of
    timestamps in SQL)."""
    service = seeded.services["B"]
    issued = datetime(2025, 10, 24, 8, 0, 0, 999_001, tzinfo=UTC)
    with db.session() as session:
        branch = session.scalars(select(Branch).order_by(Branch.id)).first()
        assert branch is not None
        called = issued + timedelta(microseconds=999)
        session.add(
            _ticket(
                branch, FIRST, 1, service, issued, status="done", first_called_at=called, called_at=called,
                serving_at=called, finished_at=called + timedelta(days=1, microseconds=1),
                staff_id=seeded.users["staff"],
            )
        )  # fmt: skip
    with db.session(write=False) as session:
        report = build_report(session, first_day=FIRST, last_day=FIRST)
    assert report.total["wait_avg"] == report.total["wait_p90"] == 0.000999
    assert report.total["service_avg"] == report.total["service_p90"] == 86_400.000001


def test_an_empty_range_has_no_figures(db: Database, seeded: Seeded) -> None:
    with db.session() as session:
        _random_tickets(session, seeded, seed=3)
    with db.session(write=False) as session:
        report = build_report(session, first_day=date(2020, 1, 1), last_day=date(2020, 1, 31))
        assert not report.tickets and list(report.tickets) == []
    assert report.hours == [] and report.per_service_hour == {} and report.per_staff == []
    assert report.total == {
        "issued": 0, "done": 0, "no_show": 0, "cancelled": 0, "expired": 0, "no_show_rate": None,
        "wait_avg": None, "wait_p90": None, "service_avg": None, "service_p90": None,
    }  # fmt: skip
    assert [d["issued"] for _, d in report.per_service] == [0, 0, 0]


def test_utc_offsets_find_each_change_to_the_second() -> None:
    new_york = ZoneInfo("America/New_York")
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC)
    assert utc_offsets(new_york, start, end) == [
        (start, -5 * 3600),
        (datetime(2025, 3, 9, 7, tzinfo=UTC), -4 * 3600),
        (datetime(2025, 11, 2, 6, tzinfo=UTC), -5 * 3600),
    ]
    assert utc_offsets(ZoneInfo("Asia/Kolkata"), start, end) == [(start, 19_800)]


def test_the_range_is_read_through_the_business_day_index(sqlite_url: str, tmp_path: Path) -> None:
    """Every query of the report finds the range with ix_tickets_day instead of scanning all history
    (SQLite; on PostgreSQL bench/history.py measures the plan's effect at 5 M tickets)."""
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path / "data", secret_key="t" * 40)
    data = seed(settings)
    database = Database(settings)
    with database.session() as session:
        _random_tickets(session, data, seed=1)
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM tickets" in statement and not statement.startswith("EXPLAIN"):
            statements.append((statement, parameters))

    event.listen(database.read_engine, "before_cursor_execute", keep)
    try:
        with database.session(write=False) as session:
            list(build_report(session, first_day=FIRST, last_day=LAST).tickets)
            event.remove(database.read_engine, "before_cursor_execute", keep)
            assert len(statements) == 3  # the one tally, the channels (issue 17), the tickets
            for statement, parameters in statements:
                plan = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
                details = " | ".join(row[-1] for row in plan)
                assert "USING INDEX ix_tickets_day" in details, (statement, details)
                assert "SCAN tickets" not in details, details
    finally:
        database.dispose()


def test_head_office_report_defaults_to_each_branchs_own_today(api: Any, settings: Settings) -> None:
    """Head office at 22:30 UTC on 3 May: Paris is already on 4 May, New York still on 3 May. Left without
    days, the report shows each branch its own today, not the first branch's (which would show New York's
    3 May as an empty 4 May); days given are the same business days everywhere. The project's clock, no sleeps."""
    from wins import clock
    from wins.auth import Principal
    from wins.devices.models import DeviceKind
    from wins.devices.service import create_device
    from wins.services.service import create_service
    from wins.tickets import issuing

    db = api.client.app.state.db
    with db.session() as session:
        paris = session.scalars(select(Branch).order_by(Branch.id)).first()  # the seeded branch: Europe/Paris
        assert paris is not None and paris.timezone == "Europe/Paris" and paris.day_rollover_hour == 0
        paris_id, paris_service = paris.id, api.data.services["A"]
        west = create_branch(session, name="New York", timezone="America/New_York")
        service = create_service(session, values={"name": "West desk", "prefix": "W"}, branch_id=west.id, actor=None)
        kiosk, _ = create_device(session, name="West kiosk", kind=DeviceKind.kiosk, branch_id=west.id, actor=None)
        west_id, west_service, west_kiosk = west.id, service.id, kiosk.id

    def issue(at: datetime, service_id: int, branch_kiosk: int | None) -> None:
        clock.freeze(at)
        if branch_kiosk is None:
            api.issue("A")
            return
        with db.session() as session:
            from wins.devices.models import Device

            device = session.get(Device, branch_kiosk)
            issuing.issue(session, service_id=service_id, actor=Principal(device=device))

    noon = datetime(2024, 5, 3, 12, 0, tzinfo=UTC)  # Paris 14:00 on 3 May, New York 08:00 on 3 May
    late = datetime(2024, 5, 3, 22, 30, tzinfo=UTC)  # Paris 00:30 on 4 May, New York 18:30 on 3 May
    issue(noon, paris_service, None)
    issue(late, paris_service, None)
    issue(noon, west_service, west_kiosk)
    issue(late, west_service, west_kiosk)

    clock.freeze(late)
    report = api.get("/api/v1/reports/branches", "admin")
    rows = {row["branch_id"]: row for row in report["branches"]}
    assert (rows[paris_id]["issued"], rows[paris_id]["first_day"], rows[paris_id]["last_day"]) == (
        1,
        "2024-05-04",
        "2024-05-04",
    )
    assert (rows[west_id]["issued"], rows[west_id]["first_day"], rows[west_id]["last_day"]) == (
        2,
        "2024-05-03",
        "2024-05-03",
    )
    assert (report["first_day"], report["last_day"], report["total"]["issued"]) == ("2024-05-03", "2024-05-04", 3)
    # An hour before (23:30 in Paris): both branches are on 3 May.
    clock.freeze(late - timedelta(hours=1))
    report = api.get("/api/v1/reports/branches", "admin")
    assert {row["branch_id"]: row["issued"] for row in report["branches"]} == {paris_id: 1, west_id: 2}
    assert (report["first_day"], report["last_day"]) == ("2024-05-03", "2024-05-03")
    # Days given: the same business days in every branch, whatever the hour.
    clock.freeze(late)
    report = api.get("/api/v1/reports/branches?first=2024-05-03&last=2024-05-03", "admin")
    assert {row["branch_id"]: row["issued"] for row in report["branches"]} == {paris_id: 1, west_id: 2}
    only_last = api.get("/api/v1/reports/branches?last=2024-05-04", "admin")  # first = last, in every branch
    assert {row["branch_id"]: row["issued"] for row in only_last["branches"]} == {paris_id: 1, west_id: 0}
    r = api.http.get("/api/v1/reports/branches.csv", headers=api.auth("admin"))
    assert (
        r.status_code == 200
        and 'filename="wins-branches-2024-05-03-2024-05-04.csv"' in r.headers["content-disposition"]
    )
    table = {line.split(",")[1]: line.split(",") for line in r.text.splitlines()[1:]}
    assert table["New York"][2] == "2" and table["New York"][-2:] == ["2024-05-03", "2024-05-03"]
    assert table["Test Branch"][2] == "1" and table["Test Branch"][-2:] == ["2024-05-04", "2024-05-04"]
    bad = api.http.get("/api/v1/reports/branches?first=2024-05-05&last=2024-05-04", headers=api.auth("admin"))
    assert bad.status_code == 422 and "swap them" in bad.json()["detail"]
