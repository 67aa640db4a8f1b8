"""The Kivy kiosk, headless, with a service outside its opening hours: its tile says when it opens, and a touch
on it shows the kiosk's words for a closed service; a stopped service is a greyed note, not a button. Run by
test_hours.py in a subprocess (Kivy's window and clock are process-wide). Not collected by pytest on its own."""

from __future__ import annotations

import os
from pathlib import Path

from kivy.tests.common import GraphicUnitTest

from tests.kiosk.harness import fast_config
from tests.kiosk.kivy_driver import KivyDriver
from wins_kiosk.model import Screen
from wins_kiosk.screens.widgets import Tile


class ClosedServiceTest(GraphicUnitTest):  # type: ignore[misc]
    def test_closed_tile_says_when_it_opens(self) -> None:
        config = fast_config(
            os.environ["KIOSK_TEST_SERVER"], os.environ["KIOSK_TEST_TOKEN"], Path(os.environ["KIOSK_TEST_TMP"])
        )
        driver = KivyDriver(config)
        k = driver.kiosk
        try:
            driver.until(
                lambda: k.screen == Screen.START and len(k.services) == 2 and len(k.stopped_services) == 1,
                what="start screen",
            )
            closed = os.environ["KIOSK_TEST_CLOSED_LABEL"]
            tile = driver.find(closed, Tile)
            driver.find("General", Tile)  # open services show their name alone
            stopped = driver.find(os.environ["KIOSK_TEST_STOPPED_LABEL"])
            assert not isinstance(stopped, Tile)  # named, greyed, but no button
            shot = Path(os.environ["KIOSK_TEST_TMP"]) / "start-not-issuing.png"
            driver.screenshot(shot)
            driver.tap(stopped)
            assert k.screen == Screen.START and k.notice is None  # a touch on it does nothing
            driver.tap(tile)
            driver.until(lambda: k.notice == "service_closed", what="closed notice")
            assert k.screen == Screen.START
            driver.find(k.text("service_closed"))
        finally:
            driver.close()
