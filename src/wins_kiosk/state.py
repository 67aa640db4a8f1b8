"""What the kiosk shows and does, in plain Python (no Kivy): the testable core.
(Far past 400 lines, knowingly: splitting it into screen flow, connectivity and the operator menu, with every
screen change through one guarded method, is the open part of issue 12.)

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
from functools import partial
from typing import Any, Protocol

from wins.tickets.wait_text import wait_range_text
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
from wins_kiosk.guidance import (
    KEYS,
    VOLUME_MAX,
    VOLUME_MIN,
    VOLUME_STEP,
    Action,
    FocusItem,
    SilentSpeaker,
    Speaker,
    spoken_number,
)
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
    priority: bool = False


@dataclass(frozen=True)
class Loaded:
    branch: BranchInfo | None = None
    services: list[Service] | None = None
    queue: QueueSnapshot | None = None
    setup: dict[str, Any] | None = None


class Kiosk:
    def __init__(
        self,
        config: KioskConfig,
        *,
        make_client: Callable[[], KioskClient],
        runner: Runner,
        printer: TicketPrinter | None = None,
        speaker: Speaker | None = None,
        clock: Callable[[], float] = time.monotonic,
        new_key: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.config = config
        self.runner = runner
        self.printer: TicketPrinter = printer or NoPrinter()
        self.speaker: Speaker = speaker or SilentSpeaker()
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
        # Accessibility: speech, keys, timeouts, help, priority
        self.speech_on = config.speech_default
        self.volume = config.speech_volume
        self.focus_key: str | None = None  # the focus ring; None until someone uses the keys
        self.time_warning = False  # "Need more time?"
        self.help_status: HelpStatus | None = None
        self.device_id: int | None = None
        self.priority_categories: list[dict[str, Any]] = []
        self.priority_choice: dict[str, Any] | None = None
        self.last_spoken = ""

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
        self._keys_used = False
        self._spoken_context: tuple[Any, ...] = ()
        self._announce_ticket_id: int | None = None
        self.printer.set_listener(lambda outcome: self.runner.post(lambda: self._printer_changed(outcome)))

    # -- observers ------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[], None]) -> None:
        """`listener()` is called (on the UI thread) after every change."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        items = self.focus_items()
        if self.focus_key not in {item.key for item in items}:
            self.focus_key = items[0].key if items and self._keys_used else None
        context = self._speech_context()
        if self.speech_on and context != self._spoken_context:
            self._spoken_context = context
            self.say(self.screen_speech())
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
        low, high = ticket.estimated_wait_range
        if high <= 0:
            return self.text("wait_none")
        # The server's words (one wording for kiosk, slip and phone); the same function here for an older server.
        return self.text("wait", wait=ticket.estimated_wait_text or wait_range_text(low, high, self.language))

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
        """Someone touched the screen or pressed a key: the idle timer starts again. A "Need more time?" stays
        until answered (`extend_time`): were a touch to close it, the finger would land on what lies below."""
        self._last_touch = self.clock()

    def tick(self) -> None:
        """Timers: call a few times a second."""
        now = self.clock()
        deadline = self._deadline()
        if deadline is not None and now >= deadline:
            if self.screen != Screen.RESULT:
                logger.info("idle for %.0f s: back to the start screen", now - self._last_touch)
            self.back_to_start()
        elif deadline is not None and self._warns() and now >= deadline - self._warning_seconds():
            if not self.time_warning:
                self.time_warning = True
                self._changed()
        if now >= self._next_health:
            self._check_health()
        if self.online and self._status_reported != self._status_generation:
            self._report_status()

    def _deadline(self) -> float | None:
        """When this screen goes back to the start by itself (None: it stays)."""
        if self.screen == Screen.ISSUING:
            return None
        if self.screen == Screen.RESULT:
            return None if self.print_status == PrintStatus.PRINTING else self._result_until
        if self._customised():
            # Listening takes longer than reading: speech doubles the time.
            return self._last_touch + self.config.idle_timeout_seconds * (2 if self.speech_on else 1)
        return None

    def _warns(self) -> bool:
        """Worth a "Need more time?": something would be lost. A printed ticket is in the customer's hand."""
        if self.screen == Screen.RESULT:
            return self.speech_on or self.print_status == PrintStatus.FAILED
        return self.screen not in (Screen.PIN, Screen.OPERATOR)

    def _warning_seconds(self) -> float:
        total = self.config.result_seconds if self.screen == Screen.RESULT else self.config.idle_timeout_seconds
        return min(self.config.timeout_warning_seconds, total / 2)

    def seconds_left(self) -> int:
        deadline = self._deadline()
        return 0 if deadline is None else max(0, math.ceil(deadline - self.clock()))

    def extend_time(self) -> None:
        """ "More time": the timer starts again (as often as the customer asks)."""
        now = self.clock()
        self._last_touch = now
        if self.screen == Screen.RESULT:
            self._result_until = now + max(self.config.result_seconds, self.config.idle_timeout_seconds)
        self.time_warning = False
        self._spoken_context = ()  # read the screen again: the customer may have missed it
        self._changed()

    def _customised(self) -> bool:
        """Anything a previous customer or operator left that the next customer should not inherit."""
        return (
            self.screen in (Screen.PIN, Screen.OPERATOR, Screen.PRIORITY)
            or self.speech_on != self.config.speech_default
            or self.volume != self.config.speech_volume
            or self.help_status is not None
            or self.priority_choice is not None
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
        self.time_warning = False
        self.help_status = None
        self.priority_choice = None
        if self.speech_on and not self.config.speech_default:
            self.speaker.stop()
        self.speech_on = self.config.speech_default
        self.volume = self.config.speech_volume
        self._keys_used = False
        self.focus_key = None
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
        priority = self.priority_choice is not None
        if (
            pending is None
            or pending.service_id != service_id
            or pending.language != self.language
            or pending.priority != priority
            or now - pending.at > self.config.idle_timeout_seconds
        ):
            pending = PendingIssue(service_id, self.language, self.new_key(), now, priority)
        self._pending = pending
        self.notice = None
        self.screen = Screen.ISSUING
        self._changed()
        client = self._customer_client
        self.runner.submit("main", lambda: _issue(client, pending), self._issued)

    def tap_result(self) -> None:
        """A tap on the result screen: the customer is done."""
        self.touched()
        if self.screen == Screen.RESULT and self.time_warning:
            self.extend_time()
            return
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
        self.priority_choice = None
        self._announce_ticket_id = ticket.id
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
            self._hear(event)
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
        if loaded.setup is not None:
            self.device_id = loaded.setup.get("device_id")
            self.priority_categories = [
                c for c in loaded.setup.get("priority_categories") or [] if isinstance(c, dict) and c.get("key")
            ]
        if loaded.queue is not None:
            self.now_serving = loaded.queue.now_serving[:NOW_SERVING_SHOWN]
            if self.last_event_id is None:
                self.last_event_id = loaded.queue.last_event_id

    # -- accessibility: keys, focus, speech, help, priority -----------------------------------------------

    def focus_items(self) -> list[FocusItem]:
        """What the keys can reach on this screen, in order (the Kivy widgets carry the same keys)."""
        if self.time_warning:
            return [FocusItem("more_time", self.text("more_time"), self.extend_time)]
        items: list[FocusItem] = []
        if self.screen == Screen.START:
            for service in self.services:
                label = service.name
                if self.priority_choice is not None:
                    label = f"{service.name} ({self.priority_label(self.priority_choice)})"
                items.append(FocusItem(f"service:{service.id}", label, partial(self.tap_service, service.id)))
            if self.priority_categories:
                if self.priority_choice is None:
                    items.append(FocusItem("priority", self.text("priority_button"), self.open_priority))
                else:
                    items.append(FocusItem("priority", self.text("priority_cancel"), self.cancel_priority))
            items.append(FocusItem("help", self.text("help_button"), self.request_help))
            for code, name in self.language_choices():
                items.append(FocusItem(f"lang:{code}", name, partial(self.set_language, code)))
            big = self.text("normal_text") if self.big_font else self.text("big_text")
            items.append(FocusItem("big_text", big, self.toggle_big_font))
        elif self.screen == Screen.PRIORITY:
            for category in self.priority_categories:
                label = self.text("priority_choice", label=self.priority_label(category))
                key = str(category["key"])
                items.append(FocusItem(f"priority:{key}", label, partial(self.choose_priority, key)))
            items.append(FocusItem("back", self.text("back"), self.cancel_priority))
        elif self.screen == Screen.RESULT:
            items.append(FocusItem("finish", self.text("touch_to_finish"), self.tap_result))
        return items

    def key(self, name: str) -> bool:
        """A key from a keyboard, keypad or switch interface (see guidance.KEYS); False when not ours."""
        action = KEYS.get(name)
        if action is None or self.screen in (Screen.PIN, Screen.OPERATOR):
            return False
        self.touched()
        if action in (Action.NEXT, Action.PREVIOUS, Action.ACTIVATE):
            self._keys_used = True  # from now on each screen starts with its first item focused
        if self.time_warning and action in (Action.ACTIVATE, Action.BACK):
            self.extend_time()  # "Need more time?" has one answer: no need to find the button first
        elif action == Action.GUIDE:
            self.speech_on = True
            self._spoken_context = ()
            self._changed()
        elif action == Action.REPEAT:
            self.speech_on = True
            self.say(self.last_spoken or self.screen_speech())
        elif action in (Action.LOUDER, Action.SOFTER):
            step = VOLUME_STEP if action == Action.LOUDER else -VOLUME_STEP
            self.volume = max(VOLUME_MIN, min(VOLUME_MAX, self.volume + step))
            self.say(_sentences(self.text("speech_volume", volume=self.volume)))
            self._changed()
        elif action == Action.HELP:
            self.request_help()
        elif action == Action.BACK:
            if self.screen == Screen.PRIORITY or self.priority_choice is not None:
                self.cancel_priority()
        elif action in (Action.NEXT, Action.PREVIOUS):
            self._move_focus(1 if action == Action.NEXT else -1)
        elif action == Action.ACTIVATE:
            self._activate()
        return True

    def _move_focus(self, step: int) -> None:
        items = self.focus_items()
        if not items:
            return
        keys = [item.key for item in items]
        if self.focus_key in keys:
            index = (keys.index(self.focus_key) + step) % len(keys)
        else:
            index = 0 if step > 0 else len(keys) - 1
        self.focus_key = keys[index]
        self.say(_sentences(self.text("speech_button", label=items[index].label, index=index + 1, count=len(items))))
        self._changed()

    def _activate(self) -> None:
        items = self.focus_items()
        chosen = next((item for item in items if item.key == self.focus_key), None)
        if chosen is None:
            # The first Enter shows where the focus is rather than choosing blindly.
            if items:
                self._move_focus(1)
            return
        chosen.run()

    def focused_label(self) -> str:
        return next((item.label for item in self.focus_items() if item.key == self.focus_key), "")

    def say(self, text: str) -> None:
        """Speak `text` now (interrupting), if speech is on."""
        if not self.speech_on or not text:
            return
        self.last_spoken = text
        self.speaker.say(text, language=self.language, volume=self.volume)

    def start_speech(self) -> None:
        """The long press anywhere (or a headset plugged in): turn speech on and read the screen."""
        self.touched()
        self.speech_on = True
        self._spoken_context = ()
        self._changed()

    def _speech_context(self) -> tuple[Any, ...]:
        ticket_id = self.ticket.id if self.ticket else None
        return (
            self.screen,
            self.time_warning,
            self.help_status,
            self.print_status,
            ticket_id,
            self.language,
            self.notice,
            self.priority_choice is not None,
        )

    def screen_speech(self) -> str:
        """What the speech reads for the screen as it is now (in the kiosk's language)."""
        t = self.text
        if self.time_warning:
            return _sentences(t("time_warning_title"), t("time_warning_body", seconds=self.seconds_left()))
        parts: list[str] = []
        if self.help_status is not None:
            parts.append(t(f"help_{self.help_status.value}"))
        if self.screen == Screen.START:
            parts.append(self.branch_name or t("welcome"))
            if self.notice:
                parts.append(t(self.notice))
            if self.priority_choice is not None:
                parts.append(t("priority_chosen", label=self.priority_label(self.priority_choice)))
            else:
                parts.append(t("choose_service"))
            if self.services:
                names = ", ".join(s.name for s in self.services)
                parts.append(t("speech_services", count=len(self.services), names=names))
            else:
                parts.append(t("no_services"))
            parts.append(t("speech_keys"))
        elif self.screen == Screen.PRIORITY:
            parts.append(t("priority_title"))
            labels = ", ".join(self.priority_label(c) for c in self.priority_categories)
            parts.append(labels)
            parts.append(t("speech_keys"))
        elif self.screen == Screen.ISSUING:
            parts.append(t("issuing"))
        elif self.screen == Screen.RESULT and self.ticket is not None:
            ticket = self.ticket
            parts.append(t("speech_your_number", number=spoken_number(ticket.number)))
            parts += [ticket.service_name, self.people_ahead_text(ticket), self.wait_text(ticket)]
            if self.print_status == PrintStatus.FAILED:
                parts += [t("printer_fault_title"), t("printer_fault_note", number=spoken_number(ticket.number))]
            elif self.print_status == PrintStatus.PRINTED:
                parts.append(t("take_ticket"))
            elif self.print_status == PrintStatus.PRINTING:
                parts.append(t("issuing"))
        elif self.screen == Screen.UNAVAILABLE:
            parts += [t("unavailable_title"), t("unavailable_body")]
        else:
            parts.append(t("operator_title"))
        return _sentences(*parts)

    def _hear(self, event: Event) -> None:
        """Events that concern this kiosk's customer: staff acknowledged the help call, the ticket was called."""
        data = event.data
        if event.type == "device.help_acknowledged" and self.device_id is not None:
            if data.get("device_id") == self.device_id and self.help_status is not None:
                self.help_status = HelpStatus.ACKNOWLEDGED
                self._changed()
        elif event.type in ("ticket.called", "ticket.recalled") and data.get("id") == self._announce_ticket_id:
            counter = str(data.get("counter_name") or "")
            number = str(data.get("number") or "")
            counter_text = self.text("counter", counter=counter)
            self.say(_sentences(self.text("speech_called", number=spoken_number(number), counter=counter_text)))

    def request_help(self) -> None:
        """ "I need help": staff screens show an alert with this kiosk's name until someone acknowledges it."""
        self.touched()
        if self.help_status in (HelpStatus.SENDING, HelpStatus.SENT, HelpStatus.ACKNOWLEDGED):
            self._spoken_context = ()  # asked again: say again that help is coming
            self._changed()
            return
        if not self.online:
            self.help_status = HelpStatus.FAILED
            self._changed()
            return
        self.help_status = HelpStatus.SENDING
        self._changed()
        client = self._customer_client
        self.runner.submit("main", client.request_help, self._help_sent)

    def _help_sent(self, result: JobResult[None]) -> None:
        if self.help_status != HelpStatus.SENDING:
            return  # acknowledged already, or the next customer
        if result.error is not None:
            logger.error("could not call for help: %s", result.error)
            self.help_status = HelpStatus.FAILED
        else:
            logger.info("help requested")
            self.help_status = HelpStatus.SENT
        self._changed()

    def priority_label(self, category: dict[str, Any]) -> str:
        label = category.get("label")
        if isinstance(label, dict):
            return str(label.get(self.language) or label.get("en") or next(iter(label.values()), category["key"]))
        return str(label or category.get("key"))

    def open_priority(self) -> None:
        self.touched()
        if self.screen == Screen.START and self.priority_categories:
            self.screen = Screen.PRIORITY
            self._changed()

    def choose_priority(self, key: str) -> None:
        """The customer needs priority for this reason: the next service tap issues a priority ticket."""
        self.touched()
        chosen = next((c for c in self.priority_categories if c.get("key") == key), None)
        if self.screen == Screen.PRIORITY and chosen is not None:
            self.priority_choice = chosen
            self.screen = Screen.START
            self._changed()

    def cancel_priority(self) -> None:
        self.touched()
        self.priority_choice = None
        if self.screen == Screen.PRIORITY:
            self.screen = Screen.START
        self._changed()

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


def _sentences(*parts: str) -> str:
    """Parts joined as sentences (espeak-ng pauses at a full stop)."""
    out = []
    for part in parts:
        part = part.strip()
        if part:
            out.append(part if part[-1] in ".!?…:" else part + ".")
    return " ".join(out)


# -- blocking work (runs on the runner's threads) ----------------------------------------------------


def _issue(client: KioskClient, pending: PendingIssue) -> IssuedTicket:
    for attempt in range(ISSUE_ATTEMPTS):
        try:
            return client.issue_ticket(
                pending.service_id, language=pending.language, idempotency_key=pending.key, priority=pending.priority
            )
        except ServerUnavailable:
            if attempt == ISSUE_ATTEMPTS - 1:
                raise
            time.sleep(ISSUE_BACKOFF_SECONDS[min(attempt, len(ISSUE_BACKOFF_SECONDS) - 1)])
    raise AssertionError("unreachable")


def _load(client: KioskClient, parts: set[str]) -> Loaded:
    return Loaded(
        setup=_setup(client) if "branch" in parts else None,
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


def _setup(client: KioskClient) -> dict[str, Any]:
    try:
        return client.kiosk_setup()
    except Refused as exc:  # a server without the endpoint: no priority choices, help still works
        if isinstance(exc, Unauthorized):
            raise
        logger.warning("kiosk setup unavailable: %s", exc)
        return {}
