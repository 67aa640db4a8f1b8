"""The operator menu behind the hidden gesture: the PIN pad (with a lock-out after repeated wrong PINs), then
full screen on/off, a test slip and quitting the app. Its screens are `Screen.PIN` and `Screen.OPERATOR`."""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING

from wins_kiosk.model import PrintOutcome, Screen
from wins_kiosk.runner import JobResult

if TYPE_CHECKING:
    from wins_kiosk.state import Kiosk

logger = logging.getLogger(__name__)

PIN_MAX_FAILURES = 5
PIN_LOCKOUT_SECONDS = 60.0
PIN_MAX_DIGITS = 12


class OperatorMenu:
    def __init__(self, kiosk: Kiosk) -> None:
        self.kiosk = kiosk
        self.pin_entry = ""
        self.pin_error: str | None = None  # a catalogue key
        self.message = ""  # the outcome of the last operator action (a test print)
        self.quit_requested = False
        self._failures = 0
        self._locked_until = 0.0

    @property
    def showing(self) -> bool:
        return self.kiosk.screen in (Screen.PIN, Screen.OPERATOR)

    def reset(self) -> None:
        """Nothing of the operator's visit stays for the next customer."""
        self.pin_entry = ""
        self.pin_error = None
        self.message = ""

    def request(self) -> None:
        """The hidden operator gesture: ask for the PIN."""
        kiosk = self.kiosk
        kiosk.touched()
        if kiosk.screen in (Screen.START, Screen.UNAVAILABLE) and kiosk.go(Screen.PIN):
            self.pin_entry = ""
            self.pin_error = None
            kiosk.changed()

    def digit(self, digit: str) -> None:
        self.kiosk.touched()
        if self.kiosk.screen == Screen.PIN and digit.isdigit() and len(self.pin_entry) < PIN_MAX_DIGITS:
            self.pin_entry += digit
            self.pin_error = None
            self.kiosk.changed()

    def backspace(self) -> None:
        self.kiosk.touched()
        self.pin_entry = self.pin_entry[:-1]
        self.kiosk.changed()

    def submit(self) -> None:
        kiosk = self.kiosk
        kiosk.touched()
        if kiosk.screen != Screen.PIN:
            return
        now = kiosk.clock()
        entry, self.pin_entry = self.pin_entry, ""
        if now < self._locked_until:
            self.pin_error = "operator_wrong_pin"
        elif hmac.compare_digest(entry.encode(), kiosk.config.operator_pin.encode()):
            self._failures = 0
            self.pin_error = None
            kiosk.go(Screen.OPERATOR)
            logger.info("operator signed in")
        else:
            self._failures += 1
            self.pin_error = "operator_wrong_pin"
            if self._failures >= PIN_MAX_FAILURES:
                self._failures = 0
                self._locked_until = now + PIN_LOCKOUT_SECONDS
                logger.warning("operator PIN wrong %d times: locked for %.0f s", PIN_MAX_FAILURES, PIN_LOCKOUT_SECONDS)
        kiosk.changed()

    def close(self) -> None:
        """Leave the PIN pad or the operator menu (full screen stays as the operator set it until idle)."""
        kiosk = self.kiosk
        kiosk.touched()
        if self.showing:
            self.reset()
            kiosk.go(Screen.START if kiosk.online else Screen.UNAVAILABLE)
            kiosk.changed()

    def toggle_fullscreen(self) -> None:
        kiosk = self.kiosk
        kiosk.touched()
        if kiosk.screen == Screen.OPERATOR:
            kiosk.fullscreen = not kiosk.fullscreen
            kiosk.changed()

    def quit(self) -> None:
        self.kiosk.touched()
        if self.kiosk.screen == Screen.OPERATOR:
            self.quit_requested = True
            self.kiosk.changed()

    def print_test(self) -> None:
        kiosk = self.kiosk
        kiosk.touched()
        if kiosk.screen != Screen.OPERATOR or kiosk.branch is None:
            return
        printer, branch, language = kiosk.printer, kiosk.branch, kiosk.language
        self.message = "…"
        kiosk.changed()

        def done(result: JobResult[PrintOutcome]) -> None:
            outcome = result.value or PrintOutcome(False, "error", str(result.error))
            self.message = outcome.message
            kiosk.printer_changed(outcome)

        kiosk.runner.submit("main", lambda: printer.print_test(branch=branch, language=language), done)
