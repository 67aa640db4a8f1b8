"""Accessibility of the kiosk core against a live server: keys only, spoken guidance (as text and as audio),
timeouts the customer can extend, the call for help reaching staff, and priority categories."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.kiosk.conftest import MakeHarness, Server
from tests.support.printer_emulator import PrinterEmulator
from wins.config import Settings
from wins_kiosk.guidance import SilentSpeaker, spoken_number
from wins_kiosk.i18n import CATALOGUE
from wins_kiosk.model import HelpStatus, PrintStatus, Screen
from wins_kiosk.printer import SpoolPrinter
from wins_kiosk.speech import EspeakSpeaker, synthesize
from wins_kiosk.state import Kiosk


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def screen(kiosk: Kiosk) -> Screen:
    """The kiosk's screen now (a call, so that the type checker does not keep an earlier assert's narrowing)."""
    return kiosk.screen


def press(kiosk: Kiosk, *names: str) -> None:
    for name in names:
        assert kiosk.key(name), name


def test_keys_only_from_start_to_printed_ticket_with_speech(
    make_harness: MakeHarness, server: Server, printer: PrinterEmulator, spool_printer: SpoolPrinter
) -> None:
    speaker = SilentSpeaker()
    h = make_harness(printer=spool_printer, speaker=speaker)
    k = h.kiosk
    h.pump_until(lambda: k.screen == Screen.START, what="start screen")
    assert k.focus_key is None and not k.speech_on and speaker.said == []  # silent until asked

    press(k, "f1")  # the guidance key: speech on, the screen read out
    assert k.speech_on
    assert speaker.last.startswith("Test Branch. Please choose a service. 3 services: General, Payments, Documents.")
    assert "arrow keys" in speaker.last

    press(k, "down")
    assert k.focus_key == f"service:{k.services[0].id}"
    assert speaker.last == f"General. Button 1 of {len(k.focus_items())}."
    press(k, "up")  # wraps round to the last item: the text size button
    assert k.focus_key == "big_text" and speaker.last.startswith("Bigger text. Button")
    press(k, "tab")
    assert speaker.last.startswith("General.")

    press(k, "+", "+")
    assert k.volume == 90 and speaker.last == "Volume 90 percent." and speaker.said[-1][2] == 90

    press(k, "enter")
    h.pump_until(lambda: k.print_status == PrintStatus.PRINTED, what="printed")
    assert server.waiting_numbers() == ["A001"]
    (job,) = printer.wait_for_jobs(1)
    assert b"A001" in job
    assert speaker.last.startswith("Your number is A 1. General. You are next.")
    assert speaker.last.endswith("Please take your ticket.")
    assert k.focus_key == "finish"  # the keys carry on to the next screen

    press(k, "r")  # repeat
    assert speaker.said[-1][0] == speaker.said[-2][0]

    # Called while the customer is still at the kiosk: the counter is said.
    staff = server.http.post(f"/api/v1/counters/{server.seeded.counters['1']}/call-next", headers=server.auth("staff"))
    assert staff.status_code == 200, staff.text
    h.pump_until(lambda: speaker.last.startswith("Number A 1, please go to"), what="called announcement")
    assert speaker.last == "Number A 1, please go to Counter 1."


def test_french_speech_uses_the_catalogue(make_harness: MakeHarness) -> None:
    speaker = SilentSpeaker()
    h = make_harness(speaker=speaker)
    k = h.kiosk
    h.pump_until(lambda: k.screen == Screen.START)
    press(k, *["right"] * 6)  # General, Payments, Documents, help, English, Français
    assert k.focus_key == "lang:fr"
    press(k, "enter")
    assert k.language == "fr"
    press(k, "f1")
    assert speaker.said[-1][1] == "fr"
    assert "Veuillez choisir un service. 3 services : General, Payments, Documents." in speaker.last
    assert "Utilisez les flèches" in speaker.last


def test_timeout_warns_and_the_customer_extends_it(make_harness: MakeHarness) -> None:
    clock = FakeClock()
    speaker = SilentSpeaker()
    h = make_harness(speaker=speaker, clock=clock, config={"idle_timeout_seconds": 40, "timeout_warning_seconds": 12})
    k = h.kiosk
    h.pump_until(lambda: k.screen == Screen.START)
    press(k, "f1")  # speech on: the timeout doubles to 80 s
    clock.now += 67
    k.tick()
    assert not k.time_warning
    clock.now += 2
    k.tick()
    assert k.time_warning
    assert [i.key for i in k.focus_items()] == ["more_time"]
    assert speaker.last.startswith("Need more time? This screen goes back to the start in 11 seconds.")
    press(k, "enter")  # More time
    assert not k.time_warning and k.screen == Screen.START and k.speech_on
    clock.now += 69
    k.tick()
    assert k.time_warning
    k.touched()  # a touch alone does not close it (the finger would land on the button below)…
    assert k.time_warning
    press(k, "escape")  # …the back key answers it too
    assert not k.time_warning
    clock.now += 81
    k.tick()
    assert k.screen == Screen.START and not k.speech_on and k.volume == 70  # the next customer starts afresh


def test_result_screen_warning_extends_the_number(make_harness: MakeHarness) -> None:
    clock = FakeClock()
    h = make_harness(clock=clock, config={"result_seconds": 10})
    k = h.kiosk
    h.pump_until(lambda: k.screen == Screen.START)
    k.start_speech()  # the long press
    k.tap_service(k.services[0].id)
    h.pump_until(lambda: k.screen == Screen.RESULT, what="result")
    clock.now += 6
    k.tick()
    assert k.time_warning  # speech users are asked before the number goes away
    k.tap_result()  # a touch on the warning means "more time", not "done"
    assert k.screen == Screen.RESULT and not k.time_warning
    clock.now += 25
    k.tick()
    assert k.screen == Screen.RESULT
    clock.now += 6
    k.tick()
    assert k.screen == Screen.START


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_help_reaches_staff_and_the_acknowledge_reaches_the_kiosk(
    make_harness: MakeHarness, server: Server, settings: Settings
) -> None:
    speaker = SilentSpeaker()
    h = make_harness(speaker=speaker)
    k = h.kiosk
    h.pump_until(lambda: k.screen == Screen.START and k.device_id is not None)
    assert server.get("/api/v1/devices/help", "staff") == []
    press(k, "f1", "h")
    h.pump_until(lambda: k.help_status == HelpStatus.SENT, what="help sent")
    assert "A member of staff has been called" in speaker.last
    (alert,) = server.get("/api/v1/devices/help", "staff")
    assert alert["name"] == "kiosk" and alert["device_id"] == k.device_id
    press(k, "h")  # pressed again: no second alert
    assert len(server.get("/api/v1/devices/help", "staff")) == 1
    # A printer report from the kiosk does not wipe the open request.
    h.pump_until(lambda: "printer" in server.kiosk_status(), what="status report")
    assert "help_requested_at" in server.kiosk_status()

    r = server.http.post(f"/api/v1/devices/{k.device_id}/help/acknowledge", headers=server.auth("staff"))
    assert r.status_code == 200, r.text
    assert r.json()["by"] == "staff:staff"
    h.pump_until(lambda: k.help_status == HelpStatus.ACKNOWLEDGED, what="acknowledged on the kiosk")
    assert "Someone is coming to help you." in speaker.last
    assert server.get("/api/v1/devices/help", "staff") == []
    again = server.http.post(f"/api/v1/devices/{k.device_id}/help/acknowledge", headers=server.auth("staff"))
    assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]
    engine = sa.create_engine(settings.database_url)
    with engine.connect() as db:
        rows = db.execute(
            sa.text("SELECT staff_id, details FROM audit_log WHERE action = 'device.help_acknowledge'")
        ).all()
    engine.dispose()
    assert len(rows) == 1 and rows[0][0] is not None  # who acknowledged, for the record
    # Only a kiosk may call; only staff may acknowledge.
    display = server.http.post("/api/v1/devices/me/help", headers=server.auth("display"))
    assert display.status_code == 403
    kiosk_ack = server.http.post(f"/api/v1/devices/{k.device_id}/help/acknowledge", headers=server.auth("kiosk"))
    assert kiosk_ack.status_code == 403


def test_priority_categories_offered_and_issued_as_priority(make_harness: MakeHarness, server: Server) -> None:
    admin = server.auth("admin")
    categories = [
        {"key": "pregnant", "label": {"en": "Pregnant", "fr": "Enceinte"}, "on_kiosk": True},
        {"key": "disability", "label": "Disability", "weight": 5},
        {"key": "vip", "label": "VIP", "on_kiosk": False},
    ]
    r = server.http.patch("/api/v1/branch", json={"settings": {"priority_categories": categories}}, headers=admin)
    assert r.status_code == 200, r.text
    devices = server.get("/api/v1/devices")
    (kiosk_id,) = [d["id"] for d in devices if d["kind"] == "kiosk"]
    r = server.http.patch(f"/api/v1/devices/{kiosk_id}", json={"config": {"allow_priority": True}}, headers=admin)
    assert r.status_code == 200, r.text

    speaker = SilentSpeaker()
    h = make_harness(speaker=speaker)
    k = h.kiosk
    h.pump_until(lambda: k.screen == Screen.START and len(k.priority_categories) == 2, what="categories")
    assert [i.key for i in k.focus_items()][3:5] == ["priority", "help"]
    k.open_priority()
    assert k.screen == Screen.PRIORITY
    assert [i.label for i in k.focus_items()] == [
        "I need priority (Pregnant)",
        "I need priority (Disability)",
        "Back",
    ]
    press(k, "down", "enter")
    assert screen(k) == Screen.START and k.priority_choice is not None
    press(k, "f1")
    assert "Priority: Pregnant. Now choose a service." in speaker.last
    press(k, "down", "enter")
    h.pump_until(lambda: k.screen == Screen.RESULT, what="ticket")
    assert k.ticket is not None
    ticket = server.get(f"/api/v1/tickets/{k.ticket.id}")
    assert isinstance(ticket, dict) and ticket["priority"] is True
    assert ticket["priority_category"] == "pregnant"  # the reason is recorded, as for a staff-issued one
    queue = server.get("/api/v1/queue")
    assert isinstance(queue, dict)
    (listed,) = [t for s in queue["services"] for t in s["tickets"] if t["id"] == k.ticket.id]
    assert listed["priority_label"] == "Pregnant"  # staff screens name the category
    assert k.priority_choice is None  # the next customer is not priority
    # The kiosk may send only a category the branch has and offers on kiosks; anything else is a clear 422.
    service_id = k.services[0].id
    kiosk = server.auth("kiosk")
    unknown = server.http.post("/api/v1/tickets", json={"service_id": service_id, "priority_category": "nobody"},
                               headers=kiosk)  # fmt: skip
    assert unknown.status_code == 422
    assert "Unknown priority category 'nobody'" in unknown.json()["detail"]
    staff_only = server.http.post("/api/v1/tickets", json={"service_id": service_id, "priority_category": "vip"},
                                  headers=kiosk)  # fmt: skip
    assert staff_only.status_code == 422 and "for staff to give" in staff_only.json()["detail"]

    # A category withdrawn while a customer has it chosen: the kiosk says so, drops it, shows the current ones.
    k.back_to_start()
    k.open_priority()
    k.choose_priority("pregnant")
    assert k.priority_choice is not None
    r = server.http.patch("/api/v1/branch", json={"settings": {"priority_categories": [categories[1]]}}, headers=admin)
    assert r.status_code == 200, r.text
    k.tap_service(service_id)
    h.pump_until(lambda: k.notice == "priority_refused", what="priority refused")
    assert k.screen == Screen.START and k.priority_choice is None
    assert k.text(k.notice) == "This priority is not offered here any more. Please choose again, or ask at the desk."
    h.pump_until(lambda: [c["key"] for c in k.priority_categories] == ["disability"], what="categories reloaded")

    bad = server.http.patch(
        "/api/v1/branch", json={"settings": {"priority_categories": [{"key": "Bad Key!"}]}}, headers=admin
    )
    assert bad.status_code in (200, 422)  # the branch schema (another change) may refuse it; the kiosk copes:
    h.pump_until(lambda: k.priority_categories == [] or bad.status_code == 422, what="bad setting ignored")


def test_kiosk_without_allow_priority_offers_none(make_harness: MakeHarness, server: Server) -> None:
    categories = [{"key": "pregnant", "label": "Pregnant"}]
    server.http.patch(
        "/api/v1/branch", json={"settings": {"priority_categories": categories}}, headers=server.auth("admin")
    ).raise_for_status()
    h = make_harness()
    k = h.kiosk
    h.pump_until(lambda: k.screen == Screen.START and k.device_id is not None)
    assert k.priority_categories == []
    assert "priority" not in [i.key for i in k.focus_items()]


# -- speech as audio ---------------------------------------------------------------------------------------


def audio_stats(path: Path) -> tuple[float, float]:
    """(seconds, RMS amplitude) of a WAV, measured by sox."""
    out = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True, check=True).stderr
    seconds = float(re.search(r"Length \(seconds\):\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    rms = float(re.search(r"RMS\s+amplitude:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return seconds, rms


@pytest.mark.parametrize("language", sorted(CATALOGUE))
def test_every_screen_speech_is_audible(make_harness: MakeHarness, tmp_path: Path, language: str) -> None:
    h = make_harness(config={"languages": ["en", "fr", "de"]})
    k = h.kiosk
    h.pump_until(lambda: k.screen == Screen.START)
    k.set_language(language)
    texts = {"start": k.screen_speech()}
    k.key("down")
    texts["focus"] = k.text("speech_button", label=k.focused_label(), index=1, count=len(k.focus_items()))
    k.tap_service(k.services[0].id)
    h.pump_until(lambda: k.screen == Screen.RESULT)
    texts["result"] = k.screen_speech()
    k.time_warning = True
    texts["warning"] = k.screen_speech()
    texts["help"] = k.text("help_acknowledged")
    texts["called"] = k.text("speech_called", number=spoken_number("B042"), counter=k.text("counter", counter="3"))
    assert "42" in texts["called"] and "A 1" in texts["result"]
    for name, text in texts.items():
        wav = synthesize(text, language, tmp_path / f"{name}.wav")
        seconds, rms = audio_stats(wav)
        assert seconds > 0.8, (name, text, seconds)
        assert rms > 0.01, (name, text, rms)  # speech, not silence


class RecordingPlayer:
    def __init__(self) -> None:
        self.played: list[tuple[Path, int]] = []
        self.stops = 0
        self.event = threading.Event()

    def play(self, path: Path, volume: int) -> None:
        self.played.append((path, volume))
        self.event.set()

    def stop(self) -> None:
        self.stops += 1


def test_a_new_utterance_interrupts_the_old(tmp_path: Path) -> None:
    player = RecordingPlayer()
    speaker = EspeakSpeaker(player, folder=tmp_path)
    speaker.say("This is a long sentence that nobody will hear to the end. " * 4, language="en", volume=60)
    speaker.say("Payments.", language="en", volume=80)
    assert player.stops == 2  # each new utterance stops the one playing
    for thread in [t for t in threading.enumerate() if t.name == "wins-kiosk-speech"]:
        thread.join(30)
    assert len(player.played) == 1  # the first, overtaken while being synthesised, is never played
    path, volume = player.played[0]
    assert volume == 80
    seconds, rms = audio_stats(path)
    assert 0.3 < seconds < 3 and rms > 0.01
