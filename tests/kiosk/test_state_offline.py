"""Kiosk behaviour that needs no server: configuration, the catalogue, the PIN pad, timers (with a fake clock)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.kiosk.harness import Harness, fast_config
from tests.support.server import free_port
from wins_kiosk.client import IssuedTicket
from wins_kiosk.config import ConfigError, load_config
from wins_kiosk.i18n import CATALOGUE
from wins_kiosk.model import Screen
from wins_kiosk.operator import PIN_LOCKOUT_SECONDS
from wins_kiosk.state import Kiosk

REPO = Path(__file__).resolve().parents[2]


def screen(kiosk: Kiosk) -> Screen:
    """The kiosk's screen now (a call, so that the type checker does not keep an earlier assert's narrowing)."""
    return kiosk.screen


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[tuple[Harness, FakeClock]]:
    clock = FakeClock()
    # Nothing listens on this port: the kiosk is "temporarily unavailable".
    config = fast_config(f"http://127.0.0.1:{free_port()}", "token", tmp_path, idle_timeout_seconds=30)
    harness = Harness(config, follow_events=False, clock=clock).start()
    harness.pump_until(
        lambda: harness.kiosk.screen == Screen.UNAVAILABLE and not harness.kiosk.connection.checking_health
    )
    yield harness, clock
    harness.close()


def test_every_language_has_every_text() -> None:
    keys = set(CATALOGUE["en"])
    for language, texts in CATALOGUE.items():
        assert set(texts) == keys, language
        for key, text in texts.items():
            assert text.strip(), (language, key)


def test_example_config_loads(tmp_path: Path) -> None:
    config = load_config(REPO / "deploy" / "kiosk.example.toml")
    assert config.server_url.startswith("http")
    assert config.printer_url and config.printer_url.startswith("tcp://")
    assert config.languages == ["en", "fr"]
    assert config.operator_pin.isdigit()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('server_url = "ftp://x"\ndevice_token = "t"', "http"),
        ('server_url = "http://x"', "device_token"),
        ('server_url = "http://x"\ndevice_token = "t"\nlanguages = ["xx"]', "xx"),
        ('server_url = "http://x"\ndevice_token = "t"\noperator_pin = "12"', "operator_pin"),
        ('server_url = "http://x"\ndevice_token = "t"\ncolour = "red"', "unknown setting"),
        ("server_url = ", "TOML"),
    ],
)
def test_bad_config_is_explained(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_config_under_kiosk_table_with_relative_paths(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(
        '[kiosk]\nserver_url = "http://wins.local:8000/"\ndevice_token = "abc"\nspool_dir = "spool"\n'
        'operator_pin = 123456\nprinter_url = ""\n'
    )
    config = load_config(path)
    assert config.server_url == "http://wins.local:8000"
    assert config.spool_dir == tmp_path / "spool"
    assert config.operator_pin == "123456"
    assert config.printer_url is None


def test_operator_pin_opens_menu_and_locks_after_wrong_tries(offline: tuple[Harness, FakeClock]) -> None:
    h, clock = offline
    k = h.kiosk
    k.operator.request()
    assert k.screen == Screen.PIN
    for digit in "1111":
        k.operator.digit(digit)
    k.operator.submit()
    assert k.screen == Screen.PIN and k.operator.pin_error == "operator_wrong_pin" and k.operator.pin_entry == ""
    for _ in range(4):
        for digit in "9999":
            k.operator.digit(digit)
        k.operator.submit()
    # Locked now: even the right PIN is refused for a while.
    for digit in "2468":
        k.operator.digit(digit)
    k.operator.submit()
    assert k.screen == Screen.PIN
    clock.now += PIN_LOCKOUT_SECONDS + 1
    for digit in "2468":
        k.operator.digit(digit)
    k.operator.submit()
    assert screen(k) == Screen.OPERATOR
    assert not k.fullscreen  # fast_config starts windowed
    k.operator.toggle_fullscreen()
    assert k.fullscreen
    k.operator.quit()
    assert k.operator.quit_requested


def test_fullscreen_can_only_be_left_from_the_operator_menu(offline: tuple[Harness, FakeClock]) -> None:
    h, clock = offline
    k = h.kiosk
    k.config = replace(k.config, fullscreen=True)
    k.fullscreen = True
    k.operator.toggle_fullscreen()  # not signed in: ignored
    assert k.fullscreen
    k.operator.request()
    for digit in "2468":
        k.operator.digit(digit)
    k.operator.submit()
    k.operator.toggle_fullscreen()
    assert not k.fullscreen
    k.operator.close()
    assert not k.fullscreen  # the operator keeps the window while working …
    clock.now += 31
    h.pump(0.05)
    assert k.fullscreen  # … and the kiosk takes the screen back once nobody touches it


def test_idle_timeout_resets_language_font_pin_and_fullscreen(offline: tuple[Harness, FakeClock]) -> None:
    h, clock = offline
    k = h.kiosk
    k.set_language("fr")
    k.toggle_big_font()
    assert k.font_scale > 1
    k.operator.request()
    k.operator.digit("2")
    clock.now += 29
    h.pump(0.05)
    assert k.screen == Screen.PIN and k.language == "fr"
    clock.now += 2
    h.pump(0.05)
    assert screen(k) == Screen.UNAVAILABLE  # the server is down, so not the start screen
    assert (k.language, k.big_font, k.operator.pin_entry) == ("en", False, "")


def test_wait_and_people_texts() -> None:
    from datetime import UTC, datetime

    from wins.wait_text import wait_minutes
    from wins_kiosk.config import KioskConfig
    from wins_kiosk.state import Kiosk

    assert wait_minutes(0, 0) == (0, 0)
    assert wait_minutes(150, 610) == (2, 11)

    def ticket(ahead: int, low: int, high: int) -> IssuedTicket:
        return IssuedTicket(1, "A001", 1, "General", ahead, high, (low, high), "http://x/t/1", datetime.now(UTC), "en")

    class NoRunner:
        """Nothing in this test may go to a worker."""

        def submit(self, *_: object) -> None:
            raise AssertionError("no work expected")

        def post(self, _: object) -> None:
            raise AssertionError("no work expected")

        def shutdown(self) -> None:
            pass

    from wins_kiosk.client import KioskClient

    k = Kiosk(
        KioskConfig(server_url="http://x", device_token="t", languages=["en", "fr"]),
        make_client=lambda: KioskClient("http://x", "t"),
        runner=NoRunner(),
    )
    assert k.people_ahead_text(ticket(0, 0, 0)) == "You are next"
    assert k.people_ahead_text(ticket(1, 0, 0)) == "1 person ahead of you"
    assert k.people_ahead_text(ticket(7, 0, 0)) == "7 people ahead of you"
    assert k.wait_text(ticket(0, 0, 0)) == "You will be called shortly"
    assert k.wait_text(ticket(1, 0, 240)) == "Estimated wait: up to 4 min"
    assert k.wait_text(ticket(5, 300, 900)) == "Estimated wait: 5 to 15 min"
    server_words = IssuedTicket(
        1, "A001", 1, "General", 5, 900, (300, 900), "http://x/t/1", datetime.now(UTC), "en", "5 to 15 min"
    )
    assert k.wait_text(server_words) == "Estimated wait: 5 to 15 min"
    k.set_language("fr")
    assert k.wait_text(ticket(5, 300, 900)) == "Attente estimée : 5 à 15 min"
    k.close()
