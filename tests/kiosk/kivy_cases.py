"""The real Kivy kiosk, headless, under Kivy's own GraphicUnitTest with simulated touches.

Run by test_app_kivy.py in a subprocess (Kivy's window and clock are process-wide), with the live server,
the kiosk token and the printer emulator given in the environment. Not collected by pytest on its own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kivy.graphics.cgl import cgl_get_initialized_backend_name
from kivy.tests.common import GraphicUnitTest
from PIL import Image as PILImage

from tests.kiosk.harness import fast_config
from tests.kiosk.kivy_driver import KivyDriver
from wins_kiosk.model import PrintStatus, Screen
from wins_kiosk.screens.result import ResultScreen
from wins_kiosk.screens.root import TimeWarning
from wins_kiosk.screens.start import StartScreen
from wins_kiosk.screens.widgets import QrImage, Tile
from wins_kiosk.speech import EspeakSpeaker


class KioskAppTest(GraphicUnitTest):  # type: ignore[misc]
    def test_touch_a_service_issue_print_and_operator_pin(self) -> None:
        config = fast_config(
            os.environ["KIOSK_TEST_SERVER"],
            os.environ["KIOSK_TEST_TOKEN"],
            Path(os.environ["KIOSK_TEST_TMP"]),
            printer_url=os.environ["KIOSK_TEST_PRINTER"],
        )
        driver = KivyDriver(config)
        k = driver.kiosk
        try:
            driver.until(lambda: k.screen == Screen.START and len(k.services) == 3, what="start screen")
            assert isinstance(driver.view.current, StartScreen)
            assert tuple(driver.window.size) == (1280, 800)
            # Real OpenGL drawing (SDL2 + Mesa), never the "mock" backend that silently draws nothing.
            assert cgl_get_initialized_backend_name() == "sdl2"
            tile = driver.find("General", Tile)
            assert tile.height > 100  # big targets, nothing needs precise tapping

            driver.tap(driver.find("Français", Tile))
            assert k.language == "fr"
            assert driver.find("Veuillez choisir un service")

            tile = driver.find("General", Tile)
            driver.tap(tile)
            driver.tap(tile)  # an impatient double tap: still one ticket
            driver.until(lambda: k.print_status == PrintStatus.PRINTED, what="ticket printed")
            screen = driver.view.current
            assert isinstance(screen, ResultScreen)
            assert k.ticket is not None
            assert k.ticket.number == "A001"
            driver.find("A001")
            driver.find("Veuillez prendre votre ticket")
            (qr,) = [w for w in driver.widgets() if isinstance(w, QrImage)]
            assert qr.data == k.ticket.tracking_url
            assert qr.texture.width > 100
            shot = Path(os.environ["KIOSK_TEST_TMP"]) / "result.png"
            driver.screenshot(shot)
            with PILImage.open(shot) as picture:
                colours = {colour for _, colour in picture.convert("RGB").getcolors(1 << 20) or []}
            assert (255, 210, 63) in colours  # the big yellow number was drawn
            assert (0, 0, 0) in colours  # and the QR code's black modules

            driver.wait(1.6)  # (an immediate tap would count as the tail of the double tap)
            driver.tap(screen)  # touch anywhere: done, the next customer gets English again
            driver.until(lambda: k.screen == Screen.START, what="back to start")
            assert k.language == "en"

            driver.tap(driver.find("Test Branch"), hold=2.3)  # the operator's hidden gesture
            driver.until(lambda: k.screen == Screen.PIN, what="PIN pad")
            for digit in "2468":
                driver.tap(driver.find(digit, Tile))
            driver.tap(driver.find("OK", Tile))
            driver.until(lambda: k.screen == Screen.OPERATOR, what="operator menu")
            driver.find("Printer: ready  (" + config.printer_url + ")")  # type: ignore[operator]
            driver.tap(driver.find("Cancel", Tile))
            driver.until(lambda: k.screen == Screen.START, what="start after operator")
        finally:
            driver.close()


class RecordingSpeaker:
    """Keeps what was said, and passes it to the real espeak-ng speaker (playback may have no device)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.said: list[str] = []

    def say(self, text: str, *, language: str, volume: int) -> None:
        self.said.append(text)
        self.inner.say(text, language=language, volume=volume)

    def stop(self) -> None:
        self.inner.stop()


def focus_colour_drawn(path: Path) -> bool:
    with PILImage.open(path) as picture:
        colours = {colour for _, colour in picture.convert("RGB").getcolors(1 << 20) or []}
    return (255, 224, 102) in colours


class KioskKeysTest(GraphicUnitTest):  # type: ignore[misc]
    def test_keys_only_from_start_to_ticket_with_speech_and_help(self) -> None:
        tmp = Path(os.environ["KIOSK_TEST_TMP"])
        config = fast_config(
            os.environ["KIOSK_TEST_SERVER"],
            os.environ["KIOSK_TEST_TOKEN"],
            tmp / "keys",
            printer_url=os.environ["KIOSK_TEST_PRINTER"],
        )
        driver = KivyDriver(config)
        k = driver.kiosk
        assert isinstance(k.speaker, EspeakSpeaker)  # espeak-ng is installed: the real seam is wired
        speaker = RecordingSpeaker(k.speaker)
        k.speaker = speaker
        try:
            driver.until(lambda: k.screen == Screen.START and len(k.services) == 3, what="start screen")
            before = tmp / "keys-before.png"
            driver.screenshot(before)
            assert not focus_colour_drawn(before)  # no focus ring until a key is used

            driver.press("f1")
            assert k.speech_on and "Please choose a service" in speaker.said[-1]
            driver.press("down")
            driver.press("down")
            tile = driver.find("Payments", Tile)
            assert k.focus_key == tile.focus_key and tile._focus_group is not None
            assert speaker.said[-1].startswith("Payments. Button 2 of")
            shot = tmp / "keys-focus.png"
            driver.screenshot(shot)
            assert focus_colour_drawn(shot)  # the ring is on screen

            driver.press("enter")
            driver.until(lambda: k.print_status == PrintStatus.PRINTED, what="ticket printed")
            assert k.ticket is not None and k.ticket.number == "B001"
            assert speaker.said[-1].startswith("Your number is B 1. Payments.")
            assert k.focus_key == "finish"

            driver.press("h")  # I need help
            driver.until(lambda: k.help_status is not None and k.help_status.value == "sent", what="help sent")
            driver.find("A member of staff has been called. Please wait here.")

            # The result screen warns before it goes (speech is on), and Enter gives more time.
            driver.until(lambda: k.time_warning, timeout=10, what="time warning")
            assert isinstance(driver.view.warning, TimeWarning)
            driver.find("Need more time?")
            assert speaker.said[-1].startswith("Need more time?")
            driver.press("enter")
            driver.until(lambda: not k.time_warning, what="more time")
            assert k.screen == Screen.RESULT and driver.view.warning is None
        finally:
            driver.close()
