"""The root widget: shows the screen the state asks for, rebuilt only when what it shows changed."""

from __future__ import annotations

from typing import Any

from kivy.graphics import Color, Rectangle
from kivy.uix.floatlayout import FloatLayout

from wins_kiosk.screens import theme
from wins_kiosk.screens.result import ResultScreen
from wins_kiosk.screens.start import StartScreen
from wins_kiosk.screens.system import IssuingScreen, OperatorScreen, PinScreen, UnavailableScreen
from wins_kiosk.state import Kiosk, Screen

SCREENS: dict[Screen, Any] = {
    Screen.START: StartScreen,
    Screen.ISSUING: IssuingScreen,
    Screen.RESULT: ResultScreen,
    Screen.UNAVAILABLE: UnavailableScreen,
    Screen.PIN: PinScreen,
    Screen.OPERATOR: OperatorScreen,
}


class KioskView(FloatLayout):  # type: ignore[misc]
    def __init__(self, kiosk: Kiosk, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kiosk = kiosk
        self.current: Any = None
        self._key: tuple[Any, ...] = ()
        with self.canvas.before:
            Color(*theme.BACKGROUND)
            self._background = Rectangle()
        self.bind(pos=self._redraw, size=self._redraw)
        kiosk.subscribe(self.refresh)
        self.refresh()

    def _redraw(self, *_: Any) -> None:
        self._background.pos = self.pos
        self._background.size = self.size

    def refresh(self) -> None:
        kiosk = self.kiosk
        cls = SCREENS[kiosk.screen]
        key = (kiosk.screen, *cls.signature(kiosk))
        if key != self._key or self.current is None:
            self._key = key
            if self.current is not None:
                self.remove_widget(self.current)
            self.current = cls(kiosk)
            self.add_widget(self.current)
        elif hasattr(self.current, "update"):
            self.current.update()

    def on_touch_down(self, touch: Any) -> bool:
        self.kiosk.touched()  # any touch keeps the idle timer away
        return bool(super().on_touch_down(touch))
