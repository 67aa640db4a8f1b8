"""The reports page (charts + tables) and its CSV downloads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wins.branches.service import get_branch, today
from wins.deps import ReadSessionDep
from wins.errors import WinsError
from wins.reports import desk
from wins.reports import service as reports
from wins.tickets import history
from wins.web.charts import Series, grouped_hbars, stacked_bars
from wins.web.pages import ManagerPage, duration, page_branch, render

router = APIRouter(include_in_schema=False)

WAIT_AVG, WAIT_P90 = "#0969da", "#8c959f"
SERVICE_AVG, SERVICE_P90 = "#1a7f37", "#8c959f"


def _minutes(seconds: float) -> str:
    return duration(seconds)


def _charts(report: reports.Report) -> dict[str, Any]:
    hours = [f"{h:02d}:00" for h in report.hours]
    per_hour = stacked_bars(
        "chart-hourly",
        "Tickets issued per hour, by service",
        hours,
        [
            Series(s.name, s.colour, [report.per_service_hour.get(s.id, {}).get(h, 0) for h in report.hours])
            for s in report.services
        ],
        y_label="tickets",
    )
    names = [s.name for s, _ in report.per_service]
    waits = grouped_hbars(
        "chart-wait",
        "Waiting time per service (issued → first called)",
        names,
        [
            Series("Average", WAIT_AVG, [d["wait_avg"] for _, d in report.per_service]),
            Series("90th percentile", WAIT_P90, [d["wait_p90"] for _, d in report.per_service]),
        ],
        fmt=_minutes,
    )
    service_times = grouped_hbars(
        "chart-service",
        "Service time per service (start serving → done)",
        names,
        [
            Series("Average", SERVICE_AVG, [d["service_avg"] for _, d in report.per_service]),
            Series("90th percentile", SERVICE_P90, [d["service_p90"] for _, d in report.per_service]),
        ],
        fmt=_minutes,
    )
    staff_names = [name for name, _ in report.per_staff]
    staff_times = grouped_hbars(
        "chart-staff",
        "Service time per staff member",
        staff_names,
        [
            Series("Average", SERVICE_AVG, [d["service_avg"] for _, d in report.per_staff]),
            Series("90th percentile", SERVICE_P90, [d["service_p90"] for _, d in report.per_staff]),
        ],
        fmt=_minutes,
    )
    return {"per_hour": per_hour, "waits": waits, "service_times": service_times, "staff_times": staff_times}


@router.get("/reports")
def reports_page(
    request: Request, _: ManagerPage, session: ReadSessionDep, first: str | None = None, last: str | None = None
) -> Response:
    """Volumes, waiting and service times, no-show rate for a range of business days."""
    branch = get_branch(session, page_branch(request))
    first_day, last_day = reports.parse_range(branch, first, last)
    report = reports.build_report(session, first_day=first_day, last_day=last_day, branch_id=branch.id)
    return render(
        request,
        "reports.html",
        {
            "title": "Reports",
            "r": report,
            "charts": _charts(report),
            "csv_kinds": reports.CSV_KINDS,
            "categories": desk.category_counts(session, report.branch, first_day, last_day),
            "pauses": desk.paused_time(session, report.branch, first_day, last_day),
        },
    )


@router.get("/reports/ticket")
def ticket_history_page(
    request: Request, _: ManagerPage, session: ReadSessionDep, number: str = "", day: str = ""
) -> Response:
    """A ticket's whole story, for answering a complaint: a search form (number and business day) and what
    happened to each ticket found."""
    branch = get_branch(session, page_branch(request))
    context: dict[str, Any] = {"title": "Find a ticket", "number": number, "day": day or today(branch).isoformat()}
    status = 200
    if number.strip():
        try:
            context["stories"] = history.find(session, number=number[:12], day=day or None, branch_id=branch.id)
        except WinsError as refused:
            context["error"] = refused.message
            status = refused.status_code
    return render(request, "ticket_history.html", context, status=status)


@router.get("/reports/{kind}.csv")
def report_csv(
    request: Request,
    kind: str,
    _: ManagerPage,
    session: ReadSessionDep,
    first: str | None = None,
    last: str | None = None,
) -> Response:
    """The report as CSV: `tickets` (one row per ticket), `services`, `staff` or `hourly`."""
    branch = get_branch(session, page_branch(request))
    first_day, last_day = reports.parse_range(branch, first, last)
    report = reports.build_report(session, first_day=first_day, last_day=last_day, branch_id=branch.id)
    body = reports.report_csv(report, kind)
    filename = f"wins-{kind}-{first_day.isoformat()}-{last_day.isoformat()}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
