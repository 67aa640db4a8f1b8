from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from wins import clock
from wins.branches.models import Branch
from wins.errors import NotFound, ValidationFailed
from wins.events.service import record_event

DEFAULT_BRANCH_SETTINGS: dict[str, Any] = {
    "slip_text": "Thank you for your patience.",
    "kiosk_languages": ["en", "fr"],
    "languages": ["en"],
}


def get_branch(session: Session, branch_id: int | None = None) -> Branch:
    """The given branch, or the first one (single-site installs have exactly one)."""
    if branch_id is not None:
        branch = session.get(Branch, branch_id)
        if branch is None:
            raise NotFound(f"Branch {branch_id} does not exist.")
        return branch
    branch = session.scalar(select(Branch).order_by(Branch.id).limit(1))
    if branch is None:
        raise NotFound("No branch is set up yet. Run `wins demo` or create one in the admin pages.")
    return branch


def today(branch: Branch) -> date:
    return clock.business_day(clock.utcnow(), timezone=branch.timezone, rollover_hour=branch.day_rollover_hour)


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"Unknown time zone {name!r}; use a name like 'Europe/Paris'.") from exc
    return name


def create_branch(session: Session, *, name: str, timezone: str = "UTC", day_rollover_hour: int = 0) -> Branch:
    branch = Branch(
        name=name,
        timezone=validate_timezone(timezone),
        day_rollover_hour=day_rollover_hour,
        settings=dict(DEFAULT_BRANCH_SETTINGS),
    )
    session.add(branch)
    session.flush()
    return branch


def update_branch(session: Session, branch: Branch, *, changes: dict[str, Any]) -> Branch:
    if "timezone" in changes:
        changes["timezone"] = validate_timezone(changes["timezone"])
    if "day_rollover_hour" in changes and not 0 <= changes["day_rollover_hour"] <= 23:
        raise ValidationFailed("The day rollover hour must be between 0 and 23.")
    settings = changes.pop("settings", None)
    for key, value in changes.items():
        setattr(branch, key, value)
    if settings is not None:
        branch.settings = {**branch.settings, **settings}
    session.flush()
    record_event(session, "branch.updated", branch_public(branch), branch_id=branch.id)
    return branch


def branch_public(branch: Branch) -> dict[str, Any]:
    return {
        "id": branch.id,
        "name": branch.name,
        "timezone": branch.timezone,
        "day_rollover_hour": branch.day_rollover_hour,
        "settings": branch.settings,
    }
