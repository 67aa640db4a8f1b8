"""The kiosk's printer: wins.printing's slip layout and persistent spool behind the state's `TicketPrinter`
seam. A slip that does not print stays in the spool (a SQLite file in `spool_dir`) and is retried in the
background until it does, across restarts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wins.printing import PrintResult, PrintSpool, Slip, SpoolJob, print_slip
from wins_kiosk.client import BranchInfo, IssuedTicket
from wins_kiosk.model import PrintOutcome

logger = logging.getLogger(__name__)


def _local(moment: datetime, timezone: str) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(ZoneInfo(timezone))
    except ZoneInfoNotFoundError:
        return moment


def make_slip(ticket: IssuedTicket, *, branch: BranchInfo, language: str, logo_path: Path | None = None) -> Slip:
    return Slip(
        branch_name=branch.name,
        number=ticket.number,
        service_name=ticket.service_name,
        issued_at=_local(ticket.issued_at, branch.timezone),
        people_ahead=ticket.people_ahead,
        estimated_wait_seconds=ticket.estimated_wait_seconds,
        estimated_wait_range=list(ticket.estimated_wait_range),
        tracking_url=ticket.tracking_url,
        footer=branch.slip_text,
        language=language,
        logo_path=str(logo_path) if logo_path else None,
    )


def _outcome(result: PrintResult) -> PrintOutcome:
    return PrintOutcome(result.ok, result.printer_state, result.message, result.paper_low)


class SpoolPrinter:
    configured = True

    def __init__(
        self,
        url: str,
        spool_dir: Path,
        *,
        retry_seconds: float = 15.0,
        timeout: float = 3.0,
        logo_path: Path | None = None,
    ) -> None:
        self.url = url
        self.logo_path = logo_path
        self.timeout = timeout
        self._listener: Callable[[PrintOutcome], None] | None = None
        self.spool = PrintSpool(spool_dir, url, interval=retry_seconds, timeout=timeout, on_result=self._retried)

    def start(self) -> SpoolPrinter:
        self.spool.start()
        return self

    def stop(self) -> None:
        self.spool.stop()

    def set_listener(self, listener: Callable[[PrintOutcome], None]) -> None:
        self._listener = listener

    def _retried(self, job: SpoolJob, result: PrintResult) -> None:
        logger.info("spooled slip %s: %s", job.slip.number, result.message)
        if self._listener is not None:
            self._listener(_outcome(result))

    def print_ticket(self, ticket: IssuedTicket, *, branch: BranchInfo, language: str) -> PrintOutcome:
        slip = make_slip(ticket, branch=branch, language=language, logo_path=self.logo_path)
        return _outcome(self.spool.print(slip))

    def print_test(self, *, branch: BranchInfo, language: str) -> PrintOutcome:
        sample = IssuedTicket(
            id=0,
            number="A000",
            service_name="Test",
            service_id=0,
            people_ahead=2,
            estimated_wait_seconds=300,
            estimated_wait_range=(180, 420),
            tracking_url="https://example.org/t/test",
            issued_at=datetime.now(UTC),
            language=language,
        )
        slip = make_slip(sample, branch=branch, language=language, logo_path=self.logo_path)
        return _outcome(print_slip(self.url, slip, timeout=self.timeout, retries=0))

    def pending_count(self) -> int:
        return len(self.spool.pending())
