"""What the kiosk shows and does, in plain Python (no Kivy): the testable core, the presenter of the Kivy screens.

`Kiosk` holds what the screens show and the customer's steps (choose a service, get the number, the printer,
help, priority, the keys and speech). Its parts live beside it: `flow` (which screen may follow which; every
screen change goes through `Kiosk.go`), `connectivity` (health checks, reloads, status reports), `operator` (the
PIN pad and operator menu), `screen_guide` (what keys reach and speech reads on each screen), `model` (the
shapes). (About 650 lines, knowingly: the customer's steps, their timers, the keys and the speech all read and
change one presented state; split further, each part would reach into the others.)

All methods run on one thread (the UI thread). Blocking work (HTTP, the printer) goes to the runner, whose
results come back on that same thread; the Kivy layer only draws `Kiosk`'s public fields and forwards
touches to its methods. `tick()` is called a few times a second and drives every timer (idle timeout, the
result screen, health checks), with an injectable clock so tests need not sleep.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from wins.wait_text import wait_range_text
from wins_kiosk import screen_guide
from wins_kiosk.client import (
    BranchInfo,
    Event,
    IssuedTicket,
    KioskClient,
    NowServing,
    Refused,
    ServerUnavailable,
    Service,
    Unauthorized,
)
from wins_kiosk.config import KioskConfig
from wins_kiosk.connectivity import Connection
from wins_kiosk.flow import ScreenFlow
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
from wins_kiosk.model import (
    BIG_FONT_SCALE,
    NOW_SERVING_SHOWN,
    RESULT_MIN_SECONDS,
    HelpStatus,
    Loaded,
    NoPrinter,
    PendingIssue,
    PrintOutcome,
    PrintStatus,
    Screen,
    TicketPrinter,
)
from wins_kiosk.operator import OperatorMenu
from wins_kiosk.runner import JobResult, Runner
from wins_kiosk.screen_guide import sentences

logger = logging.getLogger(__name__)

HOURS_REFRESH_SECONDS = 60.0  # how often the start screen rereads which services are open (opening hours)
ISSUE_ATTEMPTS = 3  # per tap, with the same Idempotency-Key: a lost answer never makes a second ticket
ISSUE_BACKOFF_SECONDS = (0.3, 1.0)


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
        self.flow = ScreenFlow(Screen.UNAVAILABLE)
        self.connection = Connection(
            self, make_client(), runner=runner, clock=clock, health_check_seconds=config.health_check_seconds
        )
        self.operator = OperatorMenu(self)

        # What the screens show
        self.language = config.default_language
        self.languages: list[str] = supported(config.languages or [config.default_language])
        self.big_font = config.big_font_default
        self.fullscreen = config.fullscreen
        self.branch: BranchInfo | None = None
        self.services: list[Service] = []  # those issuing tickets (a closed one by its hours too: a tap says so)
        self.stopped_services: list[Service] = []  # stopped by staff: shown "not issuing", no button
        self.now_serving: list[NowServing] = []
        self.ticket: IssuedTicket | None = None
        self.print_status = PrintStatus.NONE
        self.printer_state = "unknown" if self.printer.configured else "none"
        self.printer_message = ""
        self.paper_low = False
        self.notice: str | None = None  # a catalogue key shown on the start screen
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
        now = clock()
        self._last_touch = now
        self._result_until = math.inf
        self._result_shown_at = now
        self._next_hours = now + HOURS_REFRESH_SECONDS
        self._keys_used = False
        self._spoken_context: tuple[Any, ...] = ()
        self._announce_ticket_id: int | None = None
        self.printer.set_listener(lambda outcome: self.runner.post(lambda: self.printer_changed(outcome)))

    # -- the screen and observers -------------------------------------------------------------------

    @property
    def screen(self) -> Screen:
        return self.flow.screen

    def go(self, screen: Screen) -> bool:
        """The one way to change the screen (`flow.ALLOWED` says which changes are steps of the flow)."""
        return self.flow.go(screen)

    @property
    def online(self) -> bool:
        return self.connection.online

    def subscribe(self, listener: Callable[[], None]) -> None:
        """`listener()` is called (on the UI thread) after every change."""
        self._listeners.append(listener)

    def changed(self) -> None:
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

    def service_label(self, service: Service) -> str:
        """The words on a service's tile: its name, and "Closed · opens at 13:00" outside its hours, or "not
        issuing tickets now" when staff stopped it (the web kiosk's words: one catalogue, wins_kiosk.i18n)."""
        if not service.active:
            return f"{service.name}: {self.text('service_not_issuing')}"
        if service.open_now:
            return service.name
        if not service.opens_at:
            return f"{service.name}\n{self.text('closed')}"
        opens = datetime.fromisoformat(service.opens_at)  # the branch's local time, as the server wrote it
        today = datetime.now(opens.tzinfo).date()
        at = opens.strftime("%H:%M")
        if opens.date() == today:
            return f"{service.name}\n{self.text('closed_opens_at', time=at)}"
        return f"{service.name}\n{self.text('closed_opens_on', date=opens.strftime('%d/%m'), time=at)}"

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
        self.connection.start()

    def close(self) -> None:
        self._customer_client.close()
        self.connection.close()

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
                self.changed()
        if now >= self._next_hours:  # a service opens or closes by the clock, with no event: reread the list
            self._next_hours = now + HOURS_REFRESH_SECONDS
            self.connection.reload("services")
        self.connection.tick(now)

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
        self.changed()

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
        self.operator.reset()
        self.time_warning = False
        self.help_status = None
        self.priority_choice = None
        if self.speech_on and not self.config.speech_default:
            self.speaker.stop()
        self.speech_on = self.config.speech_default
        self.volume = self.config.speech_volume
        self._keys_used = False
        self.focus_key = None
        self.go(Screen.START if self.online else Screen.UNAVAILABLE)
        self.changed()

    # -- customer actions ---------------------------------------------------------------------------

    def set_language(self, code: str) -> None:
        self.touched()
        if code in self.languages and code != self.language:
            self.language = code
            self.changed()

    def toggle_big_font(self) -> None:
        self.touched()
        self.big_font = not self.big_font
        self.changed()

    def tap_service(self, service_id: int) -> None:
        """A customer chose a service. A second tap while the first is under way does nothing."""
        self.touched()
        if self.screen != Screen.START or not any(s.id == service_id for s in self.services):
            return
        now = self.clock()
        pending = self._pending
        category = str(self.priority_choice["key"]) if self.priority_choice is not None else None
        if (
            pending is None
            or pending.service_id != service_id
            or pending.language != self.language
            or pending.priority_category != category
            or now - pending.at > self.config.idle_timeout_seconds
        ):
            pending = PendingIssue(service_id, self.language, self.new_key(), now, category)
        self._pending = pending
        if not self.go(Screen.ISSUING):
            return
        self.notice = None
        self.changed()
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
                self.connection.lost(unauthorized=True)
                self.go(Screen.UNAVAILABLE)
            elif isinstance(error, Refused):
                logger.warning("ticket refused: %s", error)
                self._pending = None
                self.notice = "service_closed" if error.code == "service_closed" else "refused"
                self.go(Screen.START)
                if self.priority_choice is not None:
                    # The category may have been withdrawn meanwhile: the customer chooses again from fresh ones.
                    if error.code == "invalid_input":  # the request is otherwise well formed: the category
                        self.notice = "priority_refused"
                    self.priority_choice = None
                    self.connection.reload("services", "branch")
                else:
                    self.connection.reload("services")
            else:
                # Keep the pending tap: when the customer taps again the same key is sent, so a ticket the
                # server did issue (its answer lost on the way) is returned instead of a second one.
                logger.warning("ticket not issued, server unavailable: %s", error)
                self.connection.lost()
                self.go(Screen.UNAVAILABLE)
            self.changed()
            return
        ticket = result.value
        assert ticket is not None
        logger.info("issued %s%s", ticket.number, " (replayed)" if ticket.replayed else "")
        self._pending = None
        self.ticket = ticket
        self.priority_choice = None
        self._announce_ticket_id = ticket.id
        self.go(Screen.RESULT)
        self._result_shown_at = self.clock()
        if not self.printer.configured or self.branch is None:
            self.print_status = PrintStatus.NONE
            self._result_until = self.clock() + self.config.result_seconds
            self.changed()
            return
        self.print_status = PrintStatus.PRINTING
        self.changed()
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
        self.printer_changed(outcome, notify=False)
        if self.ticket is ticket:
            self.print_status = PrintStatus.PRINTED if outcome.ok else PrintStatus.FAILED
            # Give a customer who must note the number more time.
            seconds = self.config.result_seconds * (1 if outcome.ok else 2)
            self._result_until = self.clock() + seconds
        self.changed()

    def printer_changed(self, outcome: PrintOutcome, *, notify: bool = True) -> None:
        """A print (now or a later retry) told us the printer's state: show it to operators, tell the server."""
        if (outcome.printer_state, outcome.message, outcome.paper_low) != (
            self.printer_state,
            self.printer_message,
            self.paper_low,
        ):
            self.printer_state = outcome.printer_state
            self.printer_message = outcome.message
            self.paper_low = outcome.paper_low
            self.connection.status_changed()
        if notify:
            self.changed()

    def focus_items(self) -> list[FocusItem]:
        return screen_guide.focus_items(self)

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
            self.changed()
        elif action == Action.REPEAT:
            self.speech_on = True
            self.say(self.last_spoken or self.screen_speech())
        elif action in (Action.LOUDER, Action.SOFTER):
            step = VOLUME_STEP if action == Action.LOUDER else -VOLUME_STEP
            self.volume = max(VOLUME_MIN, min(VOLUME_MAX, self.volume + step))
            self.say(sentences(self.text("speech_volume", volume=self.volume)))
            self.changed()
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
        self.say(sentences(self.text("speech_button", label=items[index].label, index=index + 1, count=len(items))))
        self.changed()

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
        self.changed()

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
        return screen_guide.screen_speech(self)

    def _hear(self, event: Event) -> None:
        """Events that concern this kiosk's customer: staff acknowledged the help call, the ticket was called."""
        data = event.data
        if event.type == "device.help_acknowledged" and self.device_id is not None:
            if data.get("device_id") == self.device_id and self.help_status is not None:
                self.help_status = HelpStatus.ACKNOWLEDGED
                self.changed()
        elif event.type in ("ticket.called", "ticket.recalled") and data.get("id") == self._announce_ticket_id:
            counter = str(data.get("counter_name") or "")
            number = str(data.get("number") or "")
            counter_text = self.text("counter", counter=counter)
            self.say(sentences(self.text("speech_called", number=spoken_number(number), counter=counter_text)))

    def request_help(self) -> None:
        """ "I need help": staff screens show an alert with this kiosk's name until someone acknowledges it."""
        self.touched()
        if self.help_status in (HelpStatus.SENDING, HelpStatus.SENT, HelpStatus.ACKNOWLEDGED):
            self._spoken_context = ()  # asked again: say again that help is coming
            self.changed()
            return
        if not self.online:
            self.help_status = HelpStatus.FAILED
            self.changed()
            return
        self.help_status = HelpStatus.SENDING
        self.changed()
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
        self.changed()

    def priority_label(self, category: dict[str, Any]) -> str:
        label = category.get("label")
        if isinstance(label, dict):
            return str(label.get(self.language) or label.get("en") or next(iter(label.values()), category["key"]))
        return str(label or category.get("key"))

    def open_priority(self) -> None:
        self.touched()
        if self.screen == Screen.START and self.priority_categories:
            self.go(Screen.PRIORITY)
            self.changed()

    def choose_priority(self, key: str) -> None:
        """The customer needs priority for this reason: the next service tap issues a priority ticket."""
        self.touched()
        chosen = next((c for c in self.priority_categories if c.get("key") == key), None)
        if self.screen == Screen.PRIORITY and chosen is not None:
            self.priority_choice = chosen
            self.go(Screen.START)
            self.changed()

    def cancel_priority(self) -> None:
        self.touched()
        self.priority_choice = None
        if self.screen == Screen.PRIORITY:
            self.go(Screen.START)
        self.changed()

    # -- the link to the server (connectivity.LinkOwner) ------------------------------------------------

    def on_events(self, events: list[Event]) -> None:
        self.connection.on_events(events)

    def on_stream(self, connected: bool) -> None:
        self.connection.on_stream(connected)

    def status_payload(self) -> dict[str, Any]:
        return {
            "printer": self.printer_state,
            "printer_message": self.printer_message,
            "paper_low": self.paper_low,
            "spooled_slips": self.printer.pending_count(),
            "screen": self.screen.value,
        }

    def link_up(self, loaded: Loaded) -> None:
        self._apply(loaded)
        if self.screen == Screen.UNAVAILABLE:
            self.go(Screen.START)
        self.changed()

    def link_down(self) -> None:
        # A tap under way (ISSUING) keeps its screen: its own answer, ticket or failure, decides what follows.
        if self.screen == Screen.START:
            self.go(Screen.UNAVAILABLE)
        self.changed()

    def data_loaded(self, loaded: Loaded) -> None:
        self._apply(loaded)
        self.changed()

    def heard(self, event: Event) -> None:
        self._hear(event)

    def _apply(self, loaded: Loaded) -> None:
        if loaded.branch is not None:
            self.branch = loaded.branch
            if not self.config.languages and loaded.branch.languages:
                self.languages = supported(loaded.branch.languages)
                if self.config.default_language not in self.languages:
                    self.languages.insert(0, self.config.default_language)
        if loaded.services is not None:
            self.services = [s for s in loaded.services if s.active]
            self.stopped_services = [s for s in loaded.services if not s.active]
        if loaded.setup is not None:
            self.device_id = loaded.setup.get("device_id")
            self.priority_categories = [
                c for c in loaded.setup.get("priority_categories") or [] if isinstance(c, dict) and c.get("key")
            ]
        if loaded.queue is not None:
            self.now_serving = loaded.queue.now_serving[:NOW_SERVING_SHOWN]


# -- blocking work (runs on the runner's threads) ----------------------------------------------------


def _issue(client: KioskClient, pending: PendingIssue) -> IssuedTicket:
    for attempt in range(ISSUE_ATTEMPTS):
        try:
            return client.issue_ticket(
                pending.service_id,
                language=pending.language,
                idempotency_key=pending.key,
                priority_category=pending.priority_category,
            )
        except ServerUnavailable:
            if attempt == ISSUE_ATTEMPTS - 1:
                raise
            time.sleep(ISSUE_BACKOFF_SECONDS[min(attempt, len(ISSUE_BACKOFF_SECONDS) - 1)])
    raise AssertionError("unreachable")
