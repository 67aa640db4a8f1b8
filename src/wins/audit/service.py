from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from wins.audit.models import AuditEntry
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
