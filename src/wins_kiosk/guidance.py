"""Accessibility pieces of the kiosk core that need no Kivy: the keys a keypad or switch sends, the focusable
items of a screen, the speaker seam, and how a ticket number is said.

EN 301 549 §5.1 / §8 and ADA §707 ask a self-service machine to be usable without sight (speech output, private
listening), without fine touch (a few physical keys), and with timeouts a user can extend. What to say lives
in `wins_kiosk.state` (it knows the screen) and in the catalogue (`wins_kiosk.i18n`); how it is said is behind
`Speaker` (`wins_kiosk.speech` has the espeak-ng one).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Action(StrEnum):
    NEXT = "next"
    PREVIOUS = "previous"
    ACTIVATE = "activate"
    GUIDE = "guide"  # speech on, and read the screen (again)
    REPEAT = "repeat"
    LOUDER = "louder"
    SOFTER = "softer"
    HELP = "help"  # call a member of staff
    BACK = "back"


# Key names as Kivy's Keyboard.keycode_to_string gives them (and as a USB keypad or switch interface sends).
KEYS: dict[str, Action] = {
    "tab": Action.NEXT,
    "down": Action.NEXT,
    "right": Action.NEXT,
    "up": Action.PREVIOUS,
    "left": Action.PREVIOUS,
    "enter": Action.ACTIVATE,
    "numpadenter": Action.ACTIVATE,
    "spacebar": Action.ACTIVATE,
    "f1": Action.GUIDE,
    "f2": Action.REPEAT,
    "r": Action.REPEAT,
    "+": Action.LOUDER,
    "=": Action.LOUDER,
    "numpadadd": Action.LOUDER,
    "-": Action.SOFTER,
    "numpadsubtract": Action.SOFTER,
    "f9": Action.HELP,
    "h": Action.HELP,
    "escape": Action.BACK,
    "backspace": Action.BACK,
}

VOLUME_STEP = 10
VOLUME_MIN = 10
VOLUME_MAX = 100
# Holding a finger anywhere this long turns speech on (a blind customer cannot find a button first).
LONG_PRESS_SECONDS = 3.0


@dataclass(frozen=True)
class FocusItem:
    """One thing a key can reach: `key` names the widget, `label` is what is said, `run` what Enter does."""

    key: str
    label: str
    run: Callable[[], None]


class Speaker(Protocol):
    """The speech seam. `say` interrupts whatever is being said (a new utterance stops the old)."""

    def say(self, text: str, *, language: str, volume: int) -> None: ...

    def stop(self) -> None: ...


class SilentSpeaker:
    """No audio: remembers what would have been said (the default, and what tests read)."""

    def __init__(self) -> None:
        self.said: list[tuple[str, str, int]] = []

    def say(self, text: str, *, language: str, volume: int) -> None:
        self.said.append((text, language, volume))

    def stop(self) -> None:
        pass

    @property
    def last(self) -> str:
        return self.said[-1][0] if self.said else ""


_NUMBER = re.compile(r"^([A-Za-z]{0,4})0*([0-9]{1,5})$")


def spoken_number(number: str) -> str:
    """A042 → "A 42": letters one by one, digits as a number (espeak-ng says it in the language)."""
    match = _NUMBER.match(number.strip())
    if match is None:
        return " ".join(number)
    letters, digits = match.groups()
    return " ".join([*letters.upper(), str(int(digits))])
