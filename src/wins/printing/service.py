"""Server-side printing: a ticket's slip, and reprinting it on the branch's network printer."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from wins.audit.service import record as audit
from wins.auth import Principal
from wins.branches.models import Branch
from wins.branches.service import branch_settings, get_branch
from wins.config import Settings
from wins.db import Database
from wins.printing.layout import Slip
from wins.printing.printers import PrinterNotConfigured, network_printer_url, parse_printer_url
from wins.printing.spool import PrintResult, print_slip
from wins.tickets import views
from wins.tickets.views import tracking_url

logger = logging.getLogger("wins.printing")


def printer_url_for(branch: Branch, settings: Settings) -> str:
    """The branch's `printer_url` setting, else WINS_PRINTER_URL; checked, so a typo is reported clearly.

    The branch setting must be a network printer (tcp://HOST:PORT): it is read here as stored, not through the
    settings schema, so a file://, serial:// or usb:// value that reached the database some other way (an old
    version, a hand edit) is refused before any printer object is built, never opened for writing. Other kinds
    come only from the server's own configuration (WINS_PRINTER_URL)."""
    stored = branch.settings.get("printer_url") if isinstance(branch.settings, dict) else None
    if stored:
        return network_printer_url(str(stored))
    url = str(settings.printer_url or "").strip()
    if not url:
        raise PrinterNotConfigured(
            "No ticket printer is configured: set the branch's printer_url setting or WINS_PRINTER_URL "
            "(e.g. tcp://192.168.1.50:9100)."
        )
    parse_printer_url(url)
    return url


def slip_for_ticket(session: Session, ticket_id: int, *, settings: Settings, base_url: str) -> tuple[Slip, Branch]:
    """The slip of a ticket as it stands now (people ahead and wait are current, not those at issue)."""
    ticket = views.get_ticket(session, ticket_id)
    view = views.ticket_view(session, ticket, settings=settings)
    branch = get_branch(session, ticket.branch_id)
    slip = Slip(
        branch_name=branch.name,
        number=ticket.number,
        service_name=view["service_name"] or "",
        issued_at=ticket.issued_at.astimezone(ZoneInfo(branch.timezone)),
        people_ahead=view["people_ahead"],
        estimated_wait_seconds=view["estimated_wait_seconds"],
        estimated_wait_range=list(view["estimated_wait_range"]),
        tracking_url=tracking_url(base_url, ticket.tracking_token),
        footer=branch_settings(branch).slip_text,
        language=ticket.language or "en",
        # No logo_path: a path in the branch settings would let whoever sets them print any file on the
        # server. (The kiosk prints its own logo, from its configuration file.)
    )
    return slip, branch


def reprint_ticket(
    db: Database, *, ticket_id: int, settings: Settings, base_url: str, actor: Principal | None = None
) -> PrintResult:
    """Print a ticket's slip again on the branch's printer. Reads only: the ticket is never changed.

    The database transaction is closed before the printer is contacted, so a slow printer holds no lock.
    """
    with db.session(write=False) as session:
        slip, branch = slip_for_ticket(session, ticket_id, settings=settings, base_url=base_url)
        url = printer_url_for(branch, settings)
    result = print_slip(url, slip, retries=1, timeout=settings.printer_timeout)
    logger.info("reprint of ticket %d (%s) on %s: %s", ticket_id, slip.number, url, result.message)
    if actor is not None:
        with db.session() as session:
            audit(
                session,
                actor=actor,
                action="ticket.reprint",
                ticket_id=ticket_id,
                details={"ok": result.ok, "printer_state": result.printer_state},
            )
    return result
