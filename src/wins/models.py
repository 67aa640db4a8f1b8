"""Import every model so that metadata is complete (Alembic, tests)."""

from wins.audit.models import AuditEntry
from wins.branches.models import Branch
from wins.counters.models import Counter, CounterPause, CounterService
from wins.db import Base
from wins.devices.models import Device, DeviceKind
from wins.events.models import Event
from wins.onetime import OneTimeCode
from wins.services.models import Service
from wins.staff.models import LoginThrottle, Role, StaffBranchRole, StaffUser
from wins.tickets.models import Ticket, TicketSequence, TicketStatus

__all__ = [
    "AuditEntry",
    "Base",
    "Branch",
    "Counter",
    "CounterPause",
    "CounterService",
    "Device",
    "DeviceKind",
    "Event",
    "LoginThrottle",
    "OneTimeCode",
    "Role",
    "Service",
    "StaffBranchRole",
    "StaffUser",
    "Ticket",
    "TicketSequence",
    "TicketStatus",
]
