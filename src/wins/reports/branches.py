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
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wins.branches.models import Branch
from wins.csvsafe import SafeCsvWriter
from wins.reports.service import MICROS, duration_micros
from wins.tickets.models import Ticket, TicketStatus


def branches_report(
    session: Session, *, first_day: date, last_day: date, branch_ids: list[int] | None = None
) -> dict[str, Any]:
    """A BranchesReport: every branch (or those of `branch_ids`), by name, with its figures for the range."""
    query = select(Branch.id, Branch.name).order_by(Branch.name, Branch.id)
    if branch_ids is not None:
        query = query.where(Branch.id.in_(branch_ids))
    branches = session.execute(query).all()
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
            Ticket.branch_id.in_([b.id for b in branches]),
            Ticket.business_day >= first_day,
            Ticket.business_day <= last_day,
        )
        .group_by(Ticket.branch_id)
    ).all()
    sums = {row[0]: [int(v or 0) for v in row[1:]] for row in rows}
    out = []
    total = [0] * 8
    for branch in branches:
        figures = sums.get(branch.id, [0] * 8)
        total = [a + b for a, b in zip(total, figures, strict=True)]
        out.append(_row(branch.id, branch.name, figures))
    return {
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "branches": out,
        "total": _row(0, "All branches", total),
    }


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
        ["branch_id", "branch", "issued", "done", "no_show", "cancelled", "no_show_rate", "wait_avg_s", "service_avg_s"]
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
            ]
        )
    return out.getvalue()


def _fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"
