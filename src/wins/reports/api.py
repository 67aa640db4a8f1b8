"""Reports over the API: one branch (`?branch_id=`, managers of that branch) and every branch side by side (head
office), each also as CSV. The web reports page shows the same figures (wins.web.reports)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from wins.auth import Principal
from wins.branches.service import get_branch
from wins.deps import HeadOfficeDep, PrincipalDep, ReadSessionDep
from wins.errors import ValidationFailed
from wins.reports import branches as across
from wins.reports import service as reports
from wins.schemas import BranchesReport, BranchReport
from wins.staff.models import Role

router = APIRouter(prefix="/reports", tags=["reports"])

BranchQuery = Annotated[int | None, Query(ge=1, le=2**62, description="Branch id; omit for the branch you act in")]
DayQuery = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD; omit for today")]


def _csv(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.get("/branches", response_model=BranchesReport)
def branches_report(
    _: HeadOfficeDep, session: ReadSessionDep, first: DayQuery = None, last: DayQuery = None
) -> dict[str, Any]:
    """Every branch side by side for business days `first`..`last`: tickets issued, done, no-shows, cancelled,
    no-show rate, average wait and service time, and the total (head office). A day left out is each branch's
    own: without `last`, every branch's business day today in its own time zone; without `first`, `last`."""
    return _branches(session, first, last)


def _branches(session: Session, first: str | None, last: str | None) -> dict[str, Any]:
    # A day not given is each branch's own today (wins.reports.branches), not the first branch's.
    first_day, last_day = reports.parse_day(first), reports.parse_day(last)
    if first_day is not None and last_day is not None:
        reports.check_range(first_day, last_day)
    return across.branches_report(session, first_day=first_day, last_day=last_day)


CSV_ANSWER: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}, "description": "CSV file"}}


@router.get("/branches.csv", response_class=Response, responses=CSV_ANSWER)
def branches_report_csv(
    _: HeadOfficeDep, session: ReadSessionDep, first: DayQuery = None, last: DayQuery = None
) -> Response:
    """`GET /reports/branches` as CSV, one row per branch and a total row (head office)."""
    report = _branches(session, first, last)
    return _csv(across.branches_csv(report), f"wins-branches-{report['first_day']}-{report['last_day']}.csv")


def _branch_report(
    principal: Principal, session: Session, branch_id: int | None, first: str | None, last: str | None
) -> reports.Report:
    branch = get_branch(session, branch_id if branch_id is not None else principal.branch_id)
    principal.require_branch(branch.id, Role.manager)
    first_day, last_day = reports.parse_range(branch, first, last)
    return reports.build_report(session, first_day=first_day, last_day=last_day, branch_id=branch.id)


@router.get("/summary", response_model=BranchReport)
def branch_summary(
    principal: PrincipalDep,
    session: ReadSessionDep,
    branch_id: BranchQuery = None,
    first: DayQuery = None,
    last: DayQuery = None,
) -> dict[str, Any]:
    """One branch's figures for business days `first`..`last`, in total and per service (manager of that
    branch, or head office)."""
    report = _branch_report(principal, session, branch_id, first, last)
    return {
        "branch_id": report.branch.id,
        "branch_name": report.branch.name,
        "first_day": report.first_day.isoformat(),
        "last_day": report.last_day.isoformat(),
        "total": report.total,
        "services": [
            {"service_id": s.id, "name": s.name, "prefix": s.prefix, **figures} for s, figures in report.per_service
        ],
    }


@router.get("/{kind}.csv", response_class=Response, responses=CSV_ANSWER)
def branch_report_csv(
    kind: str,
    principal: PrincipalDep,
    session: ReadSessionDep,
    branch_id: BranchQuery = None,
    first: DayQuery = None,
    last: DayQuery = None,
) -> Response:
    """One branch's report as CSV, as the reports page gives it: `tickets` (one row per ticket), `services`,
    `staff` or `hourly` (manager of that branch, or head office)."""
    if kind not in reports.CSV_KINDS:  # before the work
        raise ValidationFailed(f"Unknown CSV {kind!r}; choose one of {', '.join(reports.CSV_KINDS)}.")
    report = _branch_report(principal, session, branch_id, first, last)
    body = reports.report_csv(report, kind)
    return _csv(body, f"wins-{kind}-{report.first_day.isoformat()}-{report.last_day.isoformat()}.csv")
