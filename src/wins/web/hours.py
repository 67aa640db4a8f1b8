"""The admin page for the day's life-cycle (manager): each service's opening hours and last-ticket cut-off, the
branch's holidays and closing time. The same services as the API (`PATCH /api/v1/services/{id}`, branch
settings), so a form accepts exactly what the API accepts."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from wins.branches import service as branches
from wins.deps import ObjectId, SessionDep
from wins.errors import ValidationFailed
from wins.schemas import ServiceHours, validated
from wins.services import hours
from wins.services import service as services
from wins.staff.models import StaffUser
from wins.web.admin import Form, Saved, _checked, _int, _submit, _text
from wins.web.pages import ManagerPage, page_actor, page_branch, render

router = APIRouter(prefix="/admin", include_in_schema=False)


def hours_page(request: Request, _: StaffUser, session: Session) -> Response:
    branch = branches.get_branch(session, page_branch(request))  # the branch the manager acts in (the picker)
    settings = branches.branch_settings(branch)
    rows = []
    for s in services.list_services(session, branch_id=branch.id):
        public = services.service_public(s, branch)
        stored: dict[str, Any] = s.hours or {}
        rows.append({
            "service": s,
            "text": hours.weekly_text(s.hours),
            "last_ticket_minutes": stored.get("last_ticket_minutes", 0),
            "wait_rule": stored.get("stop_when_wait_exceeds_time_left", False),
            "public": public,
        })  # fmt: skip
    context = {
        "title": "Opening hours",
        "rows": rows,
        "branch": branch,
        "holidays": "\n".join(settings.holidays),
        "closing_time": settings.closing_time or "",
        "example": hours.TEXT_EXAMPLE,
    }
    return render(request, "admin/hours.html", context)


@router.get("/hours")
def hours_view(request: Request, user: ManagerPage, session: SessionDep) -> Response:
    return hours_page(request, user, session)


@router.post("/hours/services/{service_id}")
def save_service_hours(
    request: Request, service_id: ObjectId, user: ManagerPage, session: SessionDep, form: Form
) -> Response:
    def change() -> Saved:
        text = _text(form, "weekly")
        value: dict[str, Any] | None = None
        if text:
            try:
                weekly = hours.weekly_from_text(text)
            except ValueError as exc:
                raise ValidationFailed(str(exc)) from None
            value = validated(ServiceHours, {
                "weekly": weekly,
                "last_ticket_minutes": _int(form, "last_ticket_minutes", "Last ticket (minutes before closing)"),
                "stop_when_wait_exceeds_time_left": _checked(form, "stop_when_wait_exceeds_time_left"),
            }).model_dump()  # fmt: skip
        updated = services.update_service(session, service_id, changes={"hours": value}, actor=page_actor(request))
        if value is None:
            return Saved(f"{updated.name} now takes tickets at any time.")
        return Saved(f"Opening hours of {updated.name} saved.")

    return _submit(request, session, user, change, page=hours_page, back="/admin/hours")


@router.post("/hours/branch")
def save_branch_days(request: Request, user: ManagerPage, session: SessionDep, form: Form) -> Response:
    def change() -> Saved:
        holidays = [d for d in re.split(r"[\s,;]+", _text(form, "holidays")) if d]
        closing = _text(form, "closing_time") or None
        branch = branches.update_branch(
            session,
            branches.get_branch(session, page_branch(request)),
            changes={"settings": {"holidays": sorted(set(holidays)), "closing_time": closing}},
            actor=page_actor(request),
        )
        return Saved(f"Holidays and closing time of {branch.name} saved.")

    return _submit(request, session, user, change, page=hours_page, back="/admin/hours")
