"""The audit log: who changed what. Each service writes the entries of the changes it makes (`record_change`), so
the REST API and the staff web pages, which both call the services, record them the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from wins.audit.models import AuditEntry

if TYPE_CHECKING:  # the domains that audit sit below wins.auth (pyproject's import-linter contracts)
    from wins.auth import Principal


def record(
    session: Session,
    *,
    actor: Principal | None,
    action: str,
    ticket_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            staff_id=actor.staff.id if actor and actor.staff else None,
            device_id=actor.device.id if actor and actor.device else None,
            action=action,
            ticket_id=ticket_id,
            details=details or {},
        )
    )


def record_change(session: Session, actor: Principal | None, action: str, details: dict[str, Any]) -> None:
    """The audit entry of a change, written by the service that makes it. `actor` None is the system itself (the
    CLI, demo data, test and benchmark seeding): not audited, as before."""
    if actor is not None:
        record(session, actor=actor, action=action, details=details)
