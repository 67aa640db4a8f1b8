"""Which kiosk screen may follow which: one table, and the one guarded method every screen change goes through.

A screen change the table does not allow (a late answer from the server arriving on the operator menu, say) is
refused and logged instead of yanking the customer or the operator to a screen out of turn.
"""

from __future__ import annotations

import logging

from wins_kiosk.model import Screen

logger = logging.getLogger(__name__)

# From each screen, the screens it may change to. The start and "unavailable" screens can always be reached
# (idle timeout, the server lost or back); everything else follows the customer's or operator's steps.
ALLOWED: dict[Screen, frozenset[Screen]] = {
    Screen.UNAVAILABLE: frozenset({Screen.START, Screen.PIN}),
    Screen.START: frozenset({Screen.ISSUING, Screen.PRIORITY, Screen.PIN, Screen.UNAVAILABLE}),
    Screen.PRIORITY: frozenset({Screen.START, Screen.UNAVAILABLE}),
    Screen.ISSUING: frozenset({Screen.RESULT, Screen.START, Screen.UNAVAILABLE}),
    Screen.RESULT: frozenset({Screen.START, Screen.UNAVAILABLE}),
    Screen.PIN: frozenset({Screen.OPERATOR, Screen.START, Screen.UNAVAILABLE}),
    Screen.OPERATOR: frozenset({Screen.START, Screen.UNAVAILABLE}),
}


class ScreenFlow:
    """The screen the kiosk shows; changed only through `go`."""

    def __init__(self, screen: Screen = Screen.UNAVAILABLE) -> None:
        self._screen = screen

    @property
    def screen(self) -> Screen:
        return self._screen

    def go(self, target: Screen) -> bool:
        """Change to `target` if the flow allows it (staying put is always allowed); False when refused."""
        if target == self._screen:
            return True
        if target not in ALLOWED[self._screen]:
            logger.warning("screen change %s -> %s refused: not a step of the kiosk's flow", self._screen, target)
            return False
        self._screen = target
        return True
