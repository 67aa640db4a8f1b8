"""Drive the real Kivy kiosk (the app's own widgets and wiring) frame by frame, with simulated touches.

Used by the headless app test (run in a subprocess, see test_app_kivy.py) and by
scripts/make-kiosk-screenshots.py. Set KIVY_HOME / XDG_CACHE_HOME before importing this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from wins_kiosk.app import attach, configure_kivy, kivy_post, wire
from wins_kiosk.config import KioskConfig


class KivyDriver:
    def __init__(self, config: KioskConfig, *, size: tuple[int, int] = (1280, 800)) -> None:
        configure_kivy(config, hide_cursor=False)
        from kivy.base import EventLoop

        EventLoop.ensure_window()
        self.loop = EventLoop
        self.window = EventLoop.window
        self.window.size = size
        self.wiring = wire(config, kivy_post, event_wait=1.0)
        self.kiosk = self.wiring.kiosk
        self.view = attach(self.wiring)
        self.window.add_widget(self.view)
        self.wiring.start()

    def frames(self, count: int = 1) -> None:
        for _ in range(count):
            self.loop.idle()

    def wait(self, seconds: float) -> None:
        """Let the app run (frames, clock, worker results) for `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.loop.idle()

    def until(self, condition: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.loop.idle()
            if condition():
                self.frames(3)  # let the new screen lay itself out and draw
                return
        k = self.kiosk
        raise AssertionError(f"timed out waiting for {what}: screen={k.screen} print={k.print_status}")

    def widgets(self, root: Any = None) -> Iterator[Any]:
        root = root or self.view
        yield root
        for child in root.children:
            yield from self.widgets(child)

    def find(self, text: str, cls: type | None = None) -> Any:
        """The widget showing exactly `text` (of type `cls`), on the current screen, laid out."""
        self.frames(3)  # a screen built this frame gets its final positions over the next frames
        found = [w for w in self.widgets() if getattr(w, "text", None) == text and (cls is None or isinstance(w, cls))]
        assert found, f"no widget shows {text!r}; texts: {[getattr(w, 'text', '') for w in self.widgets()]}"
        return found[0]

    def tap(self, widget: Any, *, hold: float = 0.0) -> None:
        """Touch the centre of `widget` the way a finger would: down, (hold), up."""
        from kivy.tests.common import UnitTestTouch

        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.frames(2)
        self.wait(hold)
        touch.touch_up()
        self.frames(2)

    def press(self, name: str) -> None:
        """A key press as the window delivers it (a keyboard, a keypad or a switch interface)."""
        keycode = self.window._system_keyboard.string_to_keycode(name)
        self.window.dispatch("on_key_down", keycode, 0, None, [])
        self.window.dispatch("on_key_up", keycode, 0)
        self.frames(2)

    def screenshot(self, path: Path) -> None:
        self.frames(3)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.view.export_to_png(str(path))

    def close(self) -> None:
        self.view.tick_event.cancel()
        self.wiring.stop()
