"""Import every model so that metadata is complete (Alembic, tests)."""

from wins.audit.models import AuditEntry
from wins.branches.models import Branch
from wins.counters.models import Counter, CounterPause, CounterService
from wins.db import Base
from wins.devices.models import Device, DeviceKind
from wins.events.models import Event
from wins.join.models import ServiceRemote
from wins.onetime import OneTimeCode
from wins.push.models import PushState, PushSubscription
from wins.services.models import Service
from wins.sms.models import SmsOutbox, SmsRequest, SmsState
from wins.staff.models import LoginThrottle, Role, StaffBranchRole, StaffUser
from wins.tickets.models import Ticket, TicketSequence, TicketStatus
from wins.webhooks.models import WebhookDelivery, WebhookEndpoint
from wins.webkiosk.models import TabletPrintJob

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
    "PushState",
    "PushSubscription",
    "Role",
    "Service",
    "SmsOutbox",
    "SmsRequest",
    "SmsState",
    "StaffBranchRole",
    "ServiceRemote",
    "StaffUser",
    "TabletPrintJob",
    "Ticket",
    "TicketSequence",
    "TicketStatus",
    "WebhookDelivery",
    "WebhookEndpoint",
]
