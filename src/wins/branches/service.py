from __future__ import annotations

import functools
from datetime import date
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from wins import clock
from wins.audit.service import record_change
from wins.branches.models import Branch
from wins.errors import NoBranch, NotFound, ValidationFailed
from wins.events.service import record_event
from wins.schemas import (
    BranchCreate,
    BranchPublic,
    BranchSettings,
    BranchUpdate,
    fields_of,
    read_stored,
    validated,
)

if TYPE_CHECKING:
    from wins.auth import Principal


def get_branch(session: Session, branch_id: int | None = None) -> Branch:
    """The given branch, or the first one (single-site installs have exactly one)."""
    if branch_id is not None:
        branch = session.get(Branch, branch_id)
        if branch is None:
            raise NotFound(f"Branch {branch_id} does not exist.")
        return branch
    branch = session.scalar(select(Branch).order_by(Branch.id).limit(1))
    if branch is None:
        raise NoBranch(
            "No branch is set up yet. An admin runs `wins setup` on the server or signs in and creates it on the "
            "first-run page (/admin/setup)."
        )
    return branch


def list_branches(session: Session) -> list[Branch]:
    return list(session.scalars(select(Branch).order_by(Branch.id)))


def has_branch(session: Session) -> bool:
    return session.scalar(select(Branch.id).limit(1)) is not None


def today(branch: Branch) -> date:
    return clock.business_day(clock.utcnow(), timezone=branch.timezone, rollover_hour=branch.day_rollover_hour)


@functools.cache
def time_zone_names() -> list[str]:
    """The zones offered in the pick lists: Area/City names and UTC (not the legacy aliases); any IANA name is
    still accepted by `validate_timezone`."""
    names = {z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/"))}
    return sorted(names | {"UTC"})


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"Unknown time zone {name!r}; use a name like 'Europe/Paris'.") from exc
    return name


def create_branch(
    session: Session,
    *,
    name: str,
    timezone: str = "UTC",
    day_rollover_hour: int = 0,
    languages: list[str] | None = None,
    actor: Principal | None = None,
) -> Branch:
    """Create a branch (`wins setup`, the first-run page, `POST /api/v1/branches`, the demo). `languages` are
    offered on its kiosks and spoken on its displays (the first is the default)."""
    values: dict[str, Any] = {"name": name, "timezone": timezone, "day_rollover_hour": day_rollover_hour}
    if languages is not None:
        values["languages"] = languages
    checked = validated(BranchCreate, values)
    settings = BranchSettings()
    if languages is not None:
        codes = [code.lower() for code in checked.languages]
        settings = validated(BranchSettings, {**settings.model_dump(), "kiosk_languages": codes, "languages": codes})
    branch = Branch(
        name=checked.name.strip(),
        timezone=validate_timezone(checked.timezone),
        day_rollover_hour=checked.day_rollover_hour,
        settings=settings.model_dump(exclude_none=True),
    )
    if not branch.name:
        raise ValidationFailed("The branch needs a name, like 'Main street clinic'.")
    session.add(branch)
    session.flush()
    record_event(session, "branch.created", branch_public(branch), branch_id=branch.id)
    record_change(session, actor, "branch.create", {"branch_id": branch.id, "name": branch.name})
    return branch


def branch_settings(branch: Branch) -> BranchSettings:
    """The branch's settings, checked: a stored value that is no longer valid reads as its default."""
    return read_stored(BranchSettings, branch.settings, what=f"branch {branch.id} settings")


def update_branch(session: Session, branch: Branch, *, changes: dict[str, Any], actor: Principal | None) -> Branch:
    """Change the branch: `changes` is a BranchUpdate (only the keys that change; in `settings`, None removes
    the logo or the printer). The API and the admin form both come here, so both are checked the same way."""
    fields = sorted(changes)  # before any key is taken out
    update = validated(BranchUpdate, changes)
    given = update.model_dump(exclude_unset=True, exclude_none=True, exclude={"settings"})
    if "timezone" in given:
        given["timezone"] = validate_timezone(given["timezone"])
    day_before = (branch.timezone, branch.day_rollover_hour, branch_settings(branch).closing_time)
    for key, value in given.items():
        setattr(branch, key, value)
    if update.settings is not None:
        merged = {**branch_settings(branch).model_dump(), **update.settings.model_dump(exclude_unset=True)}
        branch.settings = validated(BranchSettings, merged).model_dump(exclude_none=True)
    session.flush()
    if (branch.timezone, branch.day_rollover_hour, branch_settings(branch).closing_time) != day_before:
        # The business day moved: what the move ended expires now, with the change (not at the next check).
        from wins.tickets.expiry import expire_branch  # here: tickets import branches

        expire_branch(session, branch, reason="the business day was moved")
    record_event(session, "branch.updated", branch_public(branch), branch_id=branch.id)
    record_change(session, actor, "branch.update", {"branch_id": branch.id, "fields": fields})
    return branch


def branch_public(branch: Branch) -> dict[str, Any]:
    return fields_of(BranchPublic, branch, settings=branch_settings(branch).model_dump())
