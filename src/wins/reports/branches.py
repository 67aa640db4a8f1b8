"""Reports across branches (head office): one row per branch for a range of business days, and the total.

Same definitions as wins.reports.service (a ticket belongs to the business day it was issued on; wait = first
call - issue; service time = done - start of service, done tickets only; no-show rate = no-shows / (done +
no-shows)), but averages only: percentiles need every duration of every branch, and this answer must stay
fast for hundreds of branches (docs/performance.md, "Many branches"). One grouped query per range: the branch
ids are listed, so PostgreSQL and SQLite walk index ix_tickets_day (branch_id, business_day) once per branch
instead of scanning the whole history.
"""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only

from wins import clock
from wins.branches.models import Branch
from wins.branches.service import today
from wins.csvsafe import SafeCsvWriter
from wins.reports.service import MICROS, check_range, duration_micros
from wins.tickets.models import Ticket, TicketStatus


def branches_report(
    session: Session,
    *,
    first_day: date | None = None,
    last_day: date | None = None,
    branch_ids: list[int] | None = None,
) -> dict[str, Any]:
    """A BranchesReport: every branch (or those of `branch_ids`), by name, with its figures for the range.

    A day not given is each branch's own: `last_day` is the business day it is now in that branch (its time
    zone, after its rollover hour), `first_day` that branch's `last_day`. So by default every branch shows its
    own today, even when head office's today, or another branch's, is already tomorrow or still yesterday.
    Days given are the same business days in every branch (a business day is a local date). Each row says
    its days; the report's `first_day` and `last_day` are the earliest and the latest of them."""
    query = (
        select(Branch)
        .options(load_only(Branch.id, Branch.name, Branch.timezone, Branch.day_rollover_hour))
        .order_by(Branch.name, Branch.id)
    )
    if branch_ids is not None:
        query = query.where(Branch.id.in_(branch_ids))
    branches = list(session.scalars(query))
    days: dict[int, tuple[date, date]] = {}
    for branch in branches:
        last = last_day or today(branch)
        first = first_day or last
        check_range(first, last)
        days[branch.id] = (first, last)
    by_range: dict[tuple[date, date], list[int]] = defaultdict(list)
    for branch_id, span in days.items():
        by_range[span].append(branch_id)
    sums: dict[int, list[int]] = {}
    for (first, last), ids in by_range.items():  # one query per distinct range: a few time zones, a few ranges
        sums.update(_figures(session, ids, first, last))
    out = []
    total = [0] * 8
    for branch in branches:
        figures = sums.get(branch.id, [0] * 8)
        total = [a + b for a, b in zip(total, figures, strict=True)]
        out.append({**_row(branch.id, branch.name, figures), **_days(*days[branch.id])})
    utc_today = clock.utcnow().date()  # no branch at all: any day will do
    spans = list(days.values()) or [(first_day or last_day or utc_today, last_day or first_day or utc_today)]
    first_of_all, last_of_all = min(s[0] for s in spans), max(s[1] for s in spans)
    return {
        **_days(first_of_all, last_of_all),
        "branches": out,
        "total": {**_row(0, "All branches", total), **_days(first_of_all, last_of_all)},
    }


def _figures(session: Session, branch_ids: list[int], first_day: date, last_day: date) -> dict[int, list[int]]:
    """Each branch's sums over business days `first_day`..`last_day`, in one grouped query."""
    dialect = session.get_bind().dialect.name
    wait = duration_micros(dialect, Ticket.issued_at, Ticket.first_called_at)
    served = duration_micros(dialect, Ticket.serving_at, Ticket.finished_at)
    done = Ticket.status == TicketStatus.done
    rows = session.execute(
        select(
            Ticket.branch_id,
            func.count(),
            func.count().filter(done),
            func.count().filter(Ticket.status == TicketStatus.no_show),
            func.count().filter(Ticket.status == TicketStatus.cancelled),
            func.sum(wait),
            func.count(wait),
            func.sum(served).filter(done),
            func.count(served).filter(done),
        )
        .where(
            Ticket.branch_id.in_(branch_ids),
            Ticket.business_day >= first_day,
            Ticket.business_day <= last_day,
        )
        .group_by(Ticket.branch_id)
    ).all()
    return {row[0]: [int(v or 0) for v in row[1:]] for row in rows}


def _days(first_day: date, last_day: date) -> dict[str, str]:
    return {"first_day": first_day.isoformat(), "last_day": last_day.isoformat()}


def _row(branch_id: int, name: str, figures: list[int]) -> dict[str, Any]:
    issued, done, no_show, cancelled, wait_sum, waits, served_sum, served = figures
    ended = done + no_show
    return {
        "branch_id": branch_id,
        "branch_name": name,
        "issued": issued,
        "done": done,
        "no_show": no_show,
        "cancelled": cancelled,
        "no_show_rate": no_show / ended if ended else None,
        "wait_avg": wait_sum / (waits * MICROS) if waits else None,
        "service_avg": served_sum / (served * MICROS) if served else None,
    }


def branches_csv(report: dict[str, Any]) -> str:
    """The report as CSV, one row per branch and a total row (durations in seconds)."""
    out = io.StringIO()
    writer = SafeCsvWriter(out)  # branch names are typed by people: no cell may become a formula
    writer.writerow(
        [
            "branch_id",
            "branch",
            "issued",
            "done",
            "no_show",
            "cancelled",
            "no_show_rate",
            "wait_avg_s",
            "service_avg_s",
            "first_day",
            "last_day",
        ]
    )
    for row in [*report["branches"], report["total"]]:
        writer.writerow(
            [
                row["branch_id"] or "",
                row["branch_name"],
                row["issued"],
                row["done"],
                row["no_show"],
                row["cancelled"],
                _fmt(row["no_show_rate"], 4),
                _fmt(row["wait_avg"], 1),
                _fmt(row["service_avg"], 1),
                row["first_day"],
                row["last_day"],
            ]
        )
    return out.getvalue()


def _fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"
