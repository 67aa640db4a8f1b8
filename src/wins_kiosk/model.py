"""The kiosk's vocabulary: its screens, statuses, the printer seam and the shapes passed between its parts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from wins_kiosk.client import BranchInfo, IssuedTicket, QueueSnapshot, Service

BIG_FONT_SCALE = 1.35
# Taps on the result screen sooner than this after it appeared are the tail of an impatient double tap on the
# service button, not "I am done": ignore them so the customer gets to see the number.
RESULT_MIN_SECONDS = 1.5
NOW_SERVING_SHOWN = 4


class Screen(StrEnum):
    START = "start"
    ISSUING = "issuing"
    RESULT = "result"
    UNAVAILABLE = "unavailable"
    PIN = "pin"
    OPERATOR = "operator"
    PRIORITY = "priority"  # "I need priority (…)": the customer picks a category, then a service


class HelpStatus(StrEnum):
    SENDING = "sending"
    SENT = "sent"  # staff screens show the alert
    ACKNOWLEDGED = "acknowledged"  # a member of staff is on the way
    FAILED = "failed"


class PrintStatus(StrEnum):
    NONE = "none"  # no printer configured: the screen is the ticket
    PRINTING = "printing"
    PRINTED = "printed"
    FAILED = "failed"  # the slip waits in the spool; the customer notes the number


@dataclass(frozen=True)
class PrintOutcome:
    ok: bool
    printer_state: str  # online, offline, paper_out, cover_open, error, unknown (wins.printing)
    message: str = ""
    paper_low: bool = False


class TicketPrinter(Protocol):
    """The printer seam (see wins_kiosk.printer for the real one)."""

    @property
    def configured(self) -> bool: ...

    def set_listener(self, listener: Callable[[PrintOutcome], None]) -> None:
        """`listener` hears the results of later retries (called on any thread)."""

    def print_ticket(self, ticket: IssuedTicket, *, branch: BranchInfo, language: str) -> PrintOutcome:
        """Print now (blocking); on failure keep the slip and retry it later. Never raises for printer faults."""

    def print_test(self, *, branch: BranchInfo, language: str) -> PrintOutcome: ...

    def pending_count(self) -> int: ...


class NoPrinter:
    """No printer attached: the screen is the ticket."""

    configured = False

    def set_listener(self, listener: Callable[[PrintOutcome], None]) -> None:
        pass

    def print_ticket(self, ticket: IssuedTicket, *, branch: BranchInfo, language: str) -> PrintOutcome:  # noqa: ARG002
        return PrintOutcome(False, "none", "No printer is configured.")

    def print_test(self, *, branch: BranchInfo, language: str) -> PrintOutcome:  # noqa: ARG002
        return PrintOutcome(False, "none", "No printer is configured.")

    def pending_count(self) -> int:
        return 0


@dataclass(frozen=True)
class PendingIssue:
    """One customer's tap: retried with the same key until the server answers."""

    service_id: int
    language: str
    key: str
    at: float
    # The chosen priority category's key (the server records it and makes the ticket a priority one); None for none.
    priority_category: str | None = None


@dataclass(frozen=True)
class Loaded:
    branch: BranchInfo | None = None
    services: list[Service] | None = None
    queue: QueueSnapshot | None = None
    setup: dict[str, Any] | None = None
