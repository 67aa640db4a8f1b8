"""The Kivy application: wires the state, the printer, the event stream and the window together.

Import this only after `configure_kivy()` (Kivy reads its configuration when the window module loads).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wins_kiosk.client import EventFollower, KioskClient
from wins_kiosk.config import KioskConfig
from wins_kiosk.guidance import Speaker
from wins_kiosk.model import TicketPrinter
from wins_kiosk.runner import ThreadRunner
from wins_kiosk.speech import EspeakSpeaker, KivyPlayer
from wins_kiosk.state import Kiosk

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.25


def configure_kivy(config: KioskConfig, *, hide_cursor: bool | None = None) -> None:
    """Kivy settings that must be made before the window exists."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    # Kivy's own log mode swaps sys.stderr for its logger (tracebacks vanish); PYTHON mode logs through the
    # standard logging module like the rest of the kiosk.
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")  # Escape must not close a public kiosk
    Config.set("kivy", "log_enable", "0")  # we log through Python's logging
    Config.set("input", "mouse", "mouse,disable_multitouch")  # no red multitouch dots on right-click
    width, height = config.window_size
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "fullscreen", "auto" if config.fullscreen else "0")
    Config.set(
        "graphics", "show_cursor", "0" if (hide_cursor if hide_cursor is not None else config.fullscreen) else "1"
    )


@dataclass
class Wiring:
    kiosk: Kiosk
    runner: ThreadRunner
    follower: EventFollower
    printer: Any

    def start(self) -> None:
        if hasattr(self.printer, "start"):
            self.printer.start()
        self.kiosk.start()
        self.follower.start()

    def stop(self) -> None:
        self.follower.stop(timeout=1.0)
        if hasattr(self.printer, "stop"):
            self.printer.stop()
        self.runner.shutdown()
        self.kiosk.close()


def wire(config: KioskConfig, post: Callable[[Callable[[], None]], None], *, event_wait: float = 20.0) -> Wiring:
    """Build the kiosk's parts; `post` runs a call on the UI thread."""

    def make_client() -> KioskClient:
        return KioskClient(config.server_url, config.device_token, timeout=config.request_timeout_seconds)

    printer: TicketPrinter | None = None
    if config.printer_url:
        from wins_kiosk.printer import SpoolPrinter

        printer = SpoolPrinter(
            config.printer_url, config.spool_dir, retry_seconds=config.spool_retry_seconds, logo_path=config.logo_path
        )
    runner = ThreadRunner(post)
    speaker: Speaker | None = None
    if EspeakSpeaker.available():
        speaker = EspeakSpeaker(KivyPlayer())
    else:
        logger.warning("espeak-ng is not installed: no spoken guidance (apt install espeak-ng)")
    kiosk = Kiosk(config, make_client=make_client, runner=runner, printer=printer, speaker=speaker)
    follower = EventFollower(
        make_client,
        on_events=lambda events: post(lambda: kiosk.on_events(events)),
        on_connection=lambda ok: post(lambda: kiosk.on_stream(ok)),
        wait=event_wait,
    )
    return Wiring(kiosk=kiosk, runner=runner, follower=follower, printer=printer)


def kivy_post(call: Callable[[], None]) -> None:
    """From any thread to Kivy's UI thread."""
    from kivy.clock import Clock

    Clock.schedule_once(lambda _dt: call(), 0)


def attach(wiring: Wiring) -> Any:
    """The root widget bound to the kiosk, with the timers and the window following the state."""
    from kivy.clock import Clock
    from kivy.core.window import Window

    from wins_kiosk.screens.root import KioskView

    kiosk = wiring.kiosk
    view = KioskView(kiosk)
    view.tick_event = Clock.schedule_interval(lambda _dt: kiosk.tick(), TICK_SECONDS)

    def key_down(_window: Any, keycode: int, _scancode: int, _text: str | None, _modifiers: list[str]) -> bool:
        keyboard = Window._system_keyboard  # Kivy's own names for keycodes ("tab", "enter", "f1" …)
        return view.on_key(keyboard.keycode_to_string(keycode))

    Window.bind(on_key_down=key_down)
    view.key_binding = key_down

    def follow_window() -> None:
        wanted: Any = "auto" if kiosk.fullscreen else False
        if Window.fullscreen != wanted:
            Window.fullscreen = wanted
            Window.show_cursor = not kiosk.fullscreen

    kiosk.subscribe(follow_window)
    return view


def run(config: KioskConfig) -> None:
    configure_kivy(config)
    from kivy.app import App
    from kivy.core.window import Window

    class KioskApp(App):  # type: ignore[misc]
        title = "WINS kiosk"

        def build(self) -> Any:
            self.wiring = wire(config, kivy_post)
            view = attach(self.wiring)
            self.wiring.kiosk.subscribe(self._quit_if_asked)
            # Only the operator menu may close the app (window manager close, Alt+F4 …).
            Window.bind(on_request_close=lambda *_: not self.wiring.kiosk.operator.quit_requested)
            self.wiring.start()
            return view

        def _quit_if_asked(self) -> None:
            if self.wiring.kiosk.operator.quit_requested:
                logger.info("operator quit the kiosk")
                self.stop()

        def on_stop(self) -> None:
            self.wiring.stop()

    KioskApp().run()
