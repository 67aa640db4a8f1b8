"""The root widget: shows the screen the state asks for, rebuilt only when what it shows changed."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.metrics import dp
from kivy.uix.floatlayout import FloatLayout

from wins_kiosk.guidance import LONG_PRESS_SECONDS
from wins_kiosk.model import HelpStatus, Screen
from wins_kiosk.screens import theme
from wins_kiosk.screens.result import ResultScreen
from wins_kiosk.screens.start import StartScreen
from wins_kiosk.screens.system import IssuingScreen, OperatorScreen, PinScreen, PriorityScreen, UnavailableScreen
from wins_kiosk.screens.widgets import Panel, Text, Tile, show_focus
from wins_kiosk.state import Kiosk

SCREENS: dict[Screen, Any] = {
    Screen.START: StartScreen,
    Screen.ISSUING: IssuingScreen,
    Screen.RESULT: ResultScreen,
    Screen.UNAVAILABLE: UnavailableScreen,
    Screen.PIN: PinScreen,
    Screen.OPERATOR: OperatorScreen,
    Screen.PRIORITY: PriorityScreen,
}


class TimeWarning(Panel):
    """ "Need more time?" over the screen, with one big button (Enter or any touch also extends)."""

    def __init__(self, kiosk: Kiosk, **kwargs: Any) -> None:
        super().__init__(
            orientation="vertical",
            background=theme.SURFACE_HIGH,
            padding=dp(28),
            spacing=dp(16),
            size_hint=(0.62, 0.5),
            pos_hint={"center_x": 0.5, "center_y": 0.5},
            **kwargs,
        )
        scale = kiosk.font_scale
        self.add_widget(Text(kiosk.text("time_warning_title"), size=theme.TITLE, scale=scale, bold=True))
        self.body = Text("", size=theme.BODY, scale=scale)
        self.add_widget(self.body)
        self.add_widget(
            Tile(
                kiosk.text("more_time"),
                on_tap=kiosk.extend_time,
                focus_key="more_time",
                size=theme.HEADING,
                scale=scale,
                bold=True,
                background=theme.SUCCESS,
            )
        )
        self.kiosk = kiosk
        self.update()

    def update(self) -> None:
        self.body.text = self.kiosk.text("time_warning_body", seconds=self.kiosk.seconds_left())


class HelpBanner(Panel):
    """What happened to the customer's call for help, across the top of every screen."""

    def __init__(self, kiosk: Kiosk, status: HelpStatus, **kwargs: Any) -> None:
        colour = theme.DANGER if status == HelpStatus.FAILED else theme.HELP
        super().__init__(
            background=colour,
            padding=dp(10),
            size_hint=(0.56, None),
            height=dp(64 * kiosk.font_scale),
            pos_hint={"right": 0.98, "top": 0.985},  # over the speech hint, clear of the branch name
            **kwargs,
        )
        self.add_widget(
            Text(
                kiosk.text(f"help_{status.value}"),
                size=theme.BODY,
                scale=kiosk.font_scale,
                bold=True,
                colour=theme.text_on(colour),
            )
        )


class KioskView(FloatLayout):  # type: ignore[misc]
    def __init__(self, kiosk: Kiosk, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kiosk = kiosk
        self.current: Any = None
        self._key: tuple[Any, ...] = ()
        self.warning: TimeWarning | None = None
        self.help_banner: HelpBanner | None = None
        self._help_shown: tuple[Any, ...] = ()
        self._long_press: Any = None
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
            self.add_widget(self.current, index=len(self.children))  # below the overlays
        elif hasattr(self.current, "update"):
            self.current.update()
        self._overlays()
        self._show_focus()

    def _overlays(self) -> None:
        kiosk = self.kiosk
        if kiosk.time_warning and self.warning is None:
            self.warning = TimeWarning(kiosk)
            self.add_widget(self.warning)
        elif kiosk.time_warning and self.warning is not None:
            self.warning.update()
        elif not kiosk.time_warning and self.warning is not None:
            self.remove_widget(self.warning)
            self.warning = None
        shown = (kiosk.help_status, kiosk.language, kiosk.font_scale)
        if shown != self._help_shown:
            self._help_shown = shown
            if self.help_banner is not None:
                self.remove_widget(self.help_banner)
                self.help_banner = None
            if kiosk.help_status is not None:
                self.help_banner = HelpBanner(kiosk, kiosk.help_status)
                self.add_widget(self.help_banner)

    def _show_focus(self) -> None:
        wanted = self.kiosk.focus_key
        stack = [self.warning] if self.warning is not None else [self.current]
        while stack:
            widget = stack.pop()
            key = getattr(widget, "focus_key", None)
            if key is not None:
                show_focus(widget, key == wanted)
            stack.extend(widget.children)

    def on_key(self, name: str) -> bool:
        """A key from the window (see wins_kiosk.app): True when the kiosk used it."""
        return self.kiosk.key(name)

    # Holding a finger anywhere turns speech on: a blind customer cannot find a button first. The touch that
    # did it is taken from the button under it, so the hold does not also choose that button.
    def on_touch_down(self, touch: Any) -> bool:
        self.kiosk.touched()  # any touch keeps the idle timer away
        if self.warning is not None:
            # A touch anywhere (the button included) answers "Need more time?"; it chooses nothing below.
            self.kiosk.extend_time()
            return True
        self._cancel_long_press()
        self._long_press = Clock.schedule_once(lambda _dt: self._held(touch), LONG_PRESS_SECONDS)
        return bool(super().on_touch_down(touch))

    def on_touch_move(self, touch: Any) -> bool:
        if self._long_press is not None and touch.distance(touch.opos) > dp(40):  # a swipe, not a hold
            self._cancel_long_press()
        return bool(super().on_touch_move(touch))

    def on_touch_up(self, touch: Any) -> bool:
        self._cancel_long_press()
        if touch.ud.get("wins_long_press"):
            return True
        return bool(super().on_touch_up(touch))

    def _cancel_long_press(self) -> None:
        if self._long_press is not None:
            self._long_press.cancel()
            self._long_press = None

    def _held(self, touch: Any) -> None:
        self._long_press = None
        if self.kiosk.screen in (Screen.PIN, Screen.OPERATOR):
            return  # the operator's hold on the branch name got there first
        touch.ud["wins_long_press"] = True
        for ref in list(touch.grab_list):
            widget = ref() if callable(ref) else ref
            if widget is None or widget is self:
                continue
            touch.ungrab(widget)
            if getattr(widget, "state", None) == "down":
                widget.state = "normal"
        self.kiosk.start_speech()
