"""The enumerations shared by the database models, the API schemas and the pages, in one module at the bottom,
so that a schema or a page needing a role or a status does not import a domain's ORM models for it."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    reception = "reception"  # issues tickets and sees the queue; does not call (issue 16)
    staff = "staff"
    manager = "manager"
    admin = "admin"

    @property
    def rank(self) -> int:
        return {"reception": 0, "staff": 1, "manager": 2, "admin": 3}[self.value]


class DeviceKind(StrEnum):
    kiosk = "kiosk"
    display = "display"


class TicketStatus(StrEnum):
    waiting = "waiting"
    called = "called"
    serving = "serving"
    done = "done"
    no_show = "no_show"
    cancelled = "cancelled"
    # Still open when its business day ended (the branch's rollover or closing time): wins.tickets.expiry.
    expired = "expired"

    @property
    def is_open(self) -> bool:
        return self in (TicketStatus.waiting, TicketStatus.called, TicketStatus.serving)


class PauseReason(StrEnum):
    """Why a counter is paused (it takes no customers meanwhile)."""

    break_ = "break"
    paperwork = "paperwork"
    other = "other"
