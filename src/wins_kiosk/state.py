"""What the kiosk shows and does, in plain Python (no Kivy): the testable core.

All methods run on one thread (the UI thread). Blocking work (HTTP, the printer) goes to the runner, whose
results come back on that same thread; the Kivy layer only draws `Kiosk`'s public fields and forwards
touches to its methods. `tick()` is called a few times a second and drives every timer (idle timeout, the
result screen, health checks), with an injectable clock so tests need not sleep.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from wins_kiosk.client import (
    BranchInfo,
    Event,
    IssuedTicket,
    KioskClient,
    NowServing,
    QueueSnapshot,
    Refused,
    ServerUnavailable,
    Service,
    Unauthorized,
)
from wins_kiosk.config import KioskConfig
from wins_kiosk.i18n import language_name, supported, translate
from wins_kiosk.runner import JobResult, Runner

logger = logging.getLogger(__name__)

ISSUE_ATTEMPTS = 3  # per tap, with the same Idempotency-Key: a lost answer never makes a second ticket
ISSUE_BACKOFF_SECONDS = (0.3, 1.0)
PIN_MAX_FAILURES = 5
PIN_LOCKOUT_SECONDS = 60.0
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


@dataclass(frozen=True)
class Loaded:
    branch: BranchInfo | None = None
    services: list[Service] | None = None
    queue: QueueSnapshot | None = None


def wait_minutes(wait_range: tuple[int, int]) -> tuple[int, int]:
    low, high = wait_range
    return low // 60, math.ceil(high / 60)


class Kiosk:
    def __init__(
        self,
        config: KioskConfig,
        *,
        make_client: Callable[[], KioskClient],
        runner: Runner,
        printer: TicketPrinter | None = None,
        clock: Callable[[], float] = time.monotonic,
        new_key: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.config = config
        self.runner = runner
        self.printer: TicketPrinter = printer or NoPrinter()
        self.clock = clock
        self.new_key = new_key
        # One HTTP client per lane: each lane is one thread.
        self._customer_client = make_client()
        self._background_client = make_client()

        # What the screens show
        self.screen = Screen.UNAVAILABLE
        self.online = False
        self.unauthorized = False
        self.language = config.default_language
        self.languages: list[str] = supported(config.languages or [config.default_language])
        self.big_font = config.big_font_default
        self.fullscreen = config.fullscreen
        self.branch: BranchInfo | None = None
        self.services: list[Service] = []
        self.now_serving: list[NowServing] = []
        self.ticket: IssuedTicket | None = None
        self.print_status = PrintStatus.NONE
        self.printer_state = "unknown" if self.printer.configured else "none"
        self.printer_message = ""
        self.paper_low = False
        self.notice: str | None = None  # a catalogue key shown on the start screen
        self.pin_entry = ""
        self.pin_error: str | None = None
        self.operator_message = ""
        self.quit_requested = False
        self.last_event_id: int | None = None

        self._listeners: list[Callable[[], None]] = []
        self._pending: PendingIssue | None = None
        self._busy: set[str] = set()
        self._stale: set[str] = set()
        now = clock()
        self._last_touch = now
        self._result_until = math.inf
        self._result_shown_at = now
        self._next_health = now
        self._status_generation = 0
        self._status_reported = -1
        self._pin_failures = 0
        self._pin_locked_until = 0.0
        self.printer.set_listener(lambda outcome: self.runner.post(lambda: self._printer_changed(outcome)))

    # -- observers ------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[], None]) -> None:
        """`listener()` is called (on the UI thread) after every change."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    # -- words ------------------------------------------------------------------------------------

    def text(self, key: str, **values: object) -> str:
        return translate(self.language, key, **values)

    @property
    def font_scale(self) -> float:
        return BIG_FONT_SCALE if self.big_font else 1.0

    @property
    def branch_name(self) -> str:
        return self.branch.name if self.branch else ""

    def language_choices(self) -> list[tuple[str, str]]:
        return [(code, language_name(code)) for code in self.languages]

    def people_ahead_text(self, ticket: IssuedTicket) -> str:
        n = ticket.people_ahead
        return self.text("people_ahead_0" if n == 0 else "people_ahead_1" if n == 1 else "people_ahead_n", n=n)

    def wait_text(self, ticket: IssuedTicket) -> str:
        low, high = wait_minutes(ticket.estimated_wait_range)
        if high <= 0:
            return self.text("wait_none")
        if low <= 0:
            return self.text("wait_short", high=high)
        return self.text("wait_range", low=low, high=high)

    def printer_state_text(self) -> str:
        key = f"printer_{self.printer_state}"
        text = self.text(key)
        return text if text != key else self.printer_state

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Load the branch, services and queue; until that works, the "unavailable" screen shows."""
        self._next_health = self.clock()
        self._check_health()

    def close(self) -> None:
        self._customer_client.close()
        self._background_client.close()

    def touched(self) -> None:
        self._last_touch = self.clock()

    def tick(self) -> None:
        """Timers: call a few times a second."""
        now = self.clock()
        if self.screen == Screen.RESULT and self.print_status != PrintStatus.PRINTING and now >= self._result_until:
            self.back_to_start()
        elif (
            self.screen not in (Screen.ISSUING, Screen.RESULT)
            and now - self._last_touch >= self.config.idle_timeout_seconds
            and self._customised()
        ):
            logger.info("idle for %.0f s: back to the start screen", now - self._last_touch)
            self.back_to_start()
        if now >= self._next_health:
            self._check_health()
        if self.online and self._status_reported != self._status_generation:
            self._report_status()

    def _customised(self) -> bool:
        """Anything a previous customer or operator left that the next customer should not inherit."""
        return (
            self.screen in (Screen.PIN, Screen.OPERATOR)
            or self.language != self.config.default_language
            or self.big_font != self.config.big_font_default
            or self.notice is not None
            or self.fullscreen != self.config.fullscreen
        )

    def back_to_start(self) -> None:
        self.ticket = None
        self.print_status = PrintStatus.NONE
        self._result_until = math.inf
        self.language = self.config.default_language
        self.big_font = self.config.big_font_default
        # A kiosk left in a window by an operator goes back to full screen once nobody uses it.
        self.fullscreen = self.config.fullscreen
        self.notice = None
        self.pin_entry = ""
        self.pin_error = None
        self.operator_message = ""
        self.screen = Screen.START if self.online else Screen.UNAVAILABLE
        self._changed()

    # -- customer actions ---------------------------------------------------------------------------

    def set_language(self, code: str) -> None:
        self.touched()
        if code in self.languages and code != self.language:
            self.language = code
            self._changed()

    def toggle_big_font(self) -> None:
        self.touched()
        self.big_font = not self.big_font
        self._changed()

    def tap_service(self, service_id: int) -> None:
        """A customer chose a service. A second tap while the first is under way does nothing."""
        self.touched()
        if self.screen != Screen.START or not any(s.id == service_id for s in self.services):
            return
        now = self.clock()
        pending = self._pending
        if (
            pending is None
            or pending.service_id != service_id
            or pending.language != self.language
            or now - pending.at > self.config.idle_timeout_seconds
        ):
            pending = PendingIssue(service_id, self.language, self.new_key(), now)
        self._pending = pending
        self.notice = None
        self.screen = Screen.ISSUING
        self._changed()
        client = self._customer_client
        self.runner.submit("main", lambda: _issue(client, pending), self._issued)

    def tap_result(self) -> None:
        """A tap on the result screen: the customer is done."""
        self.touched()
        if (
            self.screen == Screen.RESULT
            and self.print_status != PrintStatus.PRINTING
            and self.clock() - self._result_shown_at >= RESULT_MIN_SECONDS
        ):
            self.back_to_start()

    def _issued(self, result: JobResult[IssuedTicket]) -> None:
        if result.error is not None:
            error = result.error
            if isinstance(error, Unauthorized):
                logger.error("the server refused this kiosk's token: %s", error)
                self._pending = None
                self.unauthorized = True
                self._go_offline()
            elif isinstance(error, Refused):
                logger.warning("ticket refused: %s", error)
                self._pending = None
                self.notice = "refused"
                self.screen = Screen.START
                self._stale.add("services")
                self._refresh()
            else:
                # Keep the pending tap: when the customer taps again the same key is sent, so a ticket the
                # server did issue (its answer lost on the way) is returned instead of a second one.
                logger.warning("ticket not issued, server unavailable: %s", error)
                self._go_offline()
            self._changed()
            return
        ticket = result.value
        assert ticket is not None
        logger.info("issued %s%s", ticket.number, " (replayed)" if ticket.replayed else "")
        self._pending = None
        self.ticket = ticket
        self.screen = Screen.RESULT
        self._result_shown_at = self.clock()
        if not self.printer.configured or self.branch is None:
            self.print_status = PrintStatus.NONE
            self._result_until = self.clock() + self.config.result_seconds
            self._changed()
            return
        self.print_status = PrintStatus.PRINTING
        self._changed()
        printer, branch, language = self.printer, self.branch, self.language
        self.runner.submit(
            "main",
            lambda: printer.print_ticket(ticket, branch=branch, language=language),
            lambda res: self._printed(ticket, res),
        )

    def _printed(self, ticket: IssuedTicket, result: JobResult[PrintOutcome]) -> None:
        outcome = result.value or PrintOutcome(False, "error", f"printer error: {result.error}")
        if result.error is not None:
            logger.error("printing %s raised: %s", ticket.number, result.error)
        self._printer_changed(outcome, notify=False)
        if self.ticket is ticket:
            self.print_status = PrintStatus.PRINTED if outcome.ok else PrintStatus.FAILED
            # Give a customer who must note the number more time.
            seconds = self.config.result_seconds * (1 if outcome.ok else 2)
            self._result_until = self.clock() + seconds
        self._changed()

    def _printer_changed(self, outcome: PrintOutcome, *, notify: bool = True) -> None:
        """A print (now or a later retry) told us the printer's state: show it to operators, tell the server."""
        if (outcome.printer_state, outcome.message, outcome.paper_low) != (
            self.printer_state,
            self.printer_message,
            self.paper_low,
        ):
            self.printer_state = outcome.printer_state
            self.printer_message = outcome.message
            self.paper_low = outcome.paper_low
            self._status_generation += 1
            self._report_status()
        if notify:
            self._changed()

    # -- server status ------------------------------------------------------------------------------

    def status_payload(self) -> dict[str, Any]:
        return {
            "printer": self.printer_state,
            "printer_message": self.printer_message,
            "paper_low": self.paper_low,
            "spooled_slips": self.printer.pending_count(),
            "screen": self.screen.value,
        }

    def _report_status(self) -> None:
        if "status" in self._busy or not self.online:
            return
        self._busy.add("status")
        generation = self._status_generation
        payload = self.status_payload()
        client = self._background_client
        self.runner.submit(
            "background", lambda: client.report_status(payload), lambda res: self._status_done(generation, res)
        )

    def _status_done(self, generation: int, result: JobResult[None]) -> None:
        self._busy.discard("status")
        if result.error is None:
            self._status_reported = generation
        else:
            logger.warning("could not report the kiosk status: %s", result.error)

    # -- availability --------------------------------------------------------------------------------

    def _go_offline(self) -> None:
        self.online = False
        self._next_health = self.clock() + self.config.health_check_seconds
        if self.screen in (Screen.START, Screen.ISSUING):
            self.screen = Screen.UNAVAILABLE

    def _check_health(self) -> None:
        self._next_health = self.clock() + self.config.health_check_seconds
        if "health" in self._busy:
            return
        self._busy.add("health")
        client = self._background_client
        full = not self.online
        self.runner.submit("background", lambda: _health(client, full=full), self._health_done)

    def _health_done(self, result: JobResult[Loaded]) -> None:
        self._busy.discard("health")
        if result.error is not None:
            if isinstance(result.error, Unauthorized):
                self.unauthorized = True
            if self.online or self.screen == Screen.UNAVAILABLE:
                logger.warning("server unavailable: %s", result.error)
            self._go_offline()
            self._changed()
            return
        if not self.online:
            logger.info("server available")
            self.online = True
            self.unauthorized = False
            self._apply(result.value or Loaded())
            if self.screen == Screen.UNAVAILABLE:
                self.screen = Screen.START
            if self._status_reported != self._status_generation:
                self._report_status()
            self._changed()

    # -- live data -----------------------------------------------------------------------------------

    def on_events(self, events: list[Event]) -> None:
        """Events from the stream: refresh what they touch."""
        for event in events:
            self.last_event_id = event.id
            kind = event.type.split(".")[0]
            if kind == "service":
                self._stale.add("services")
            elif kind == "branch":
                self._stale.add("branch")
            elif kind in ("ticket", "counter"):
                self._stale.add("queue")
        self._refresh()

    def on_stream(self, connected: bool) -> None:
        """The event stream was lost or is back: check the server now rather than at the next timer."""
        if connected:
            self._stale.update(("services", "queue", "branch"))
            self._refresh()
        self._check_health()

    def _refresh(self) -> None:
        if not self._stale or "refresh" in self._busy or not self.online:
            return
        parts, self._stale = set(self._stale), set()
        self._busy.add("refresh")
        client = self._background_client
        self.runner.submit("background", lambda: _load(client, parts), lambda res: self._refreshed(parts, res))

    def _refreshed(self, parts: set[str], result: JobResult[Loaded]) -> None:
        self._busy.discard("refresh")
        if result.error is not None:
            logger.warning("refresh failed: %s", result.error)
            self._stale.update(parts)
            if isinstance(result.error, ServerUnavailable):
                self._check_health()
            return
        self._apply(result.value or Loaded())
        self._changed()
        self._refresh()  # events that came in meanwhile

    def _apply(self, loaded: Loaded) -> None:
        if loaded.branch is not None:
            self.branch = loaded.branch
            if not self.config.languages and loaded.branch.languages:
                self.languages = supported(loaded.branch.languages)
                if self.config.default_language not in self.languages:
                    self.languages.insert(0, self.config.default_language)
        if loaded.services is not None:
            self.services = loaded.services
        if loaded.queue is not None:
            self.now_serving = loaded.queue.now_serving[:NOW_SERVING_SHOWN]
            if self.last_event_id is None:
                self.last_event_id = loaded.queue.last_event_id

    # -- operator -------------------------------------------------------------------------------------

    def operator_request(self) -> None:
        """The hidden operator gesture: ask for the PIN."""
        self.touched()
        if self.screen in (Screen.START, Screen.UNAVAILABLE):
            self.screen = Screen.PIN
            self.pin_entry = ""
            self.pin_error = None
            self._changed()

    def pin_digit(self, digit: str) -> None:
        self.touched()
        if self.screen == Screen.PIN and digit.isdigit() and len(self.pin_entry) < 12:
            self.pin_entry += digit
            self.pin_error = None
            self._changed()

    def pin_backspace(self) -> None:
        self.touched()
        self.pin_entry = self.pin_entry[:-1]
        self._changed()

    def pin_submit(self) -> None:
        self.touched()
        if self.screen != Screen.PIN:
            return
        now = self.clock()
        entry, self.pin_entry = self.pin_entry, ""
        if now < self._pin_locked_until:
            self.pin_error = "operator_wrong_pin"
        elif hmac.compare_digest(entry.encode(), self.config.operator_pin.encode()):
            self._pin_failures = 0
            self.pin_error = None
            self.screen = Screen.OPERATOR
            logger.info("operator signed in")
        else:
            self._pin_failures += 1
            self.pin_error = "operator_wrong_pin"
            if self._pin_failures >= PIN_MAX_FAILURES:
                self._pin_failures = 0
                self._pin_locked_until = now + PIN_LOCKOUT_SECONDS
                logger.warning("operator PIN wrong %d times: locked for %.0f s", PIN_MAX_FAILURES, PIN_LOCKOUT_SECONDS)
        self._changed()

    def operator_close(self) -> None:
        """Leave the PIN pad or the operator menu (full screen stays as the operator set it until idle)."""
        self.touched()
        if self.screen in (Screen.PIN, Screen.OPERATOR):
            self.pin_entry = ""
            self.pin_error = None
            self.operator_message = ""
            self.screen = Screen.START if self.online else Screen.UNAVAILABLE
            self._changed()

    def operator_toggle_fullscreen(self) -> None:
        self.touched()
        if self.screen == Screen.OPERATOR:
            self.fullscreen = not self.fullscreen
            self._changed()

    def operator_quit(self) -> None:
        self.touched()
        if self.screen == Screen.OPERATOR:
            self.quit_requested = True
            self._changed()

    def operator_print_test(self) -> None:
        self.touched()
        if self.screen != Screen.OPERATOR or self.branch is None:
            return
        printer, branch, language = self.printer, self.branch, self.language
        self.operator_message = "…"
        self._changed()

        def done(result: JobResult[PrintOutcome]) -> None:
            outcome = result.value or PrintOutcome(False, "error", str(result.error))
            self.operator_message = outcome.message
            self._printer_changed(outcome)

        self.runner.submit("main", lambda: printer.print_test(branch=branch, language=language), done)


# -- blocking work (runs on the runner's threads) ----------------------------------------------------


def _issue(client: KioskClient, pending: PendingIssue) -> IssuedTicket:
    for attempt in range(ISSUE_ATTEMPTS):
        try:
            return client.issue_ticket(pending.service_id, language=pending.language, idempotency_key=pending.key)
        except ServerUnavailable:
            if attempt == ISSUE_ATTEMPTS - 1:
                raise
            time.sleep(ISSUE_BACKOFF_SECONDS[min(attempt, len(ISSUE_BACKOFF_SECONDS) - 1)])
    raise AssertionError("unreachable")


def _load(client: KioskClient, parts: set[str]) -> Loaded:
    return Loaded(
        branch=client.branch() if "branch" in parts else None,
        services=client.services() if "services" in parts else None,
        queue=client.queue() if "queue" in parts else None,
    )


def _health(client: KioskClient, *, full: bool) -> Loaded:
    if not full:
        if not client.health():
            raise ServerUnavailable("health check failed")
        return Loaded()
    # Coming back (or starting): everything may have changed while we were away.
    return _load(client, {"branch", "services", "queue"})
