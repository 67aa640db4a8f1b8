"""The kiosk core (state + client + printer adapter, no Kivy) against a live server and the printer emulator."""

from __future__ import annotations

import httpx

from tests.kiosk.conftest import MakeHarness, Server
from tests.support.printer_emulator import PrinterEmulator
from tests.support.seed import Seeded
from tests.support.server import LiveServer
from wins_kiosk.client import KioskClient
from wins_kiosk.model import PrintStatus, Screen
from wins_kiosk.printer import SpoolPrinter
from wins_kiosk.state import Kiosk


def screen(kiosk: Kiosk) -> Screen:
    """The kiosk's screen now (a call, so that the type checker does not keep an earlier assert's narrowing)."""
    return kiosk.screen


def test_start_screen_loads_branch_services_and_languages(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.pump_until(lambda: h.kiosk.screen == Screen.START, what="start screen")
    k = h.kiosk
    assert k.online
    assert k.branch_name == "Test Branch"
    assert [s.name for s in k.services] == ["General", "Payments", "Documents"]
    assert all(s.colour.startswith("#") for s in k.services)
    assert k.language_choices() == [("en", "English"), ("fr", "Français")]
    k.set_language("fr")
    assert k.text("choose_service") == "Veuillez choisir un service"


def test_tap_issues_one_ticket_shows_it_and_prints_it(
    make_harness: MakeHarness, server: Server, printer: PrinterEmulator, spool_printer: SpoolPrinter
) -> None:
    h = make_harness(printer=spool_printer)
    h.pump_until(lambda: h.kiosk.screen == Screen.START)
    k = h.kiosk
    general = k.services[0].id
    k.set_language("fr")
    k.tap_service(general)
    k.tap_service(general)  # a double tap while the first is under way
    assert screen(k) == Screen.ISSUING
    h.pump_until(lambda: k.print_status == PrintStatus.PRINTED, what="printed")
    assert screen(k) == Screen.RESULT
    ticket = k.ticket
    assert ticket is not None and ticket.number == "A001" and not ticket.replayed
    assert ticket.language == "fr"
    assert k.people_ahead_text(ticket) == "Vous êtes le prochain"
    assert ticket.tracking_url.startswith(server.live.url + "/t/")
    assert server.waiting_numbers() == ["A001"]
    (job,) = printer.wait_for_jobs(1)
    assert b"A001" in job and ticket.tracking_url.encode() in job
    assert k.printer_state == "online"
    h.pump_until(lambda: server.kiosk_status().get("printer") == "online", what="status on server")
    # A tap right away is the tail of the double tap: ignored. A later tap ends it, and the next customer
    # starts in the default language.
    k.tap_result()
    assert screen(k) == Screen.RESULT
    h.pump(1.6)
    k.tap_result()
    assert screen(k) == Screen.START and k.language == "en" and k.ticket is None


def test_lost_answer_is_retried_with_the_same_key(make_harness: MakeHarness, server: Server) -> None:
    """The server issues the ticket but its answer never arrives: the retry gets that ticket, not a second."""
    lost: list[str] = []

    class LoseFirstAnswer(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if request.method == "POST" and request.url.path == "/api/v1/tickets" and not lost:
                response.read()
                lost.append(request.headers["Idempotency-Key"])
                raise httpx.ReadError("connection reset by peer", request=request)
            return response

    h = make_harness(transport=LoseFirstAnswer())
    h.pump_until(lambda: h.kiosk.screen == Screen.START)
    k = h.kiosk
    k.tap_service(k.services[1].id)
    h.pump_until(lambda: k.screen == Screen.RESULT, what="result")
    assert k.ticket is not None and k.ticket.number == "B001" and k.ticket.replayed
    assert len(lost) == 1
    assert server.waiting_numbers() == ["B001"]
    assert k.print_status == PrintStatus.NONE  # no printer configured: the screen is the ticket


def test_client_idempotency_key_replays_the_same_ticket(live_server: LiveServer, seeded: Seeded) -> None:
    with KioskClient(live_server.url, seeded.tokens["kiosk"]) as client:
        first = client.issue_ticket(seeded.services["C"], language="en", idempotency_key="tap-0001-abcdef")
        again = client.issue_ticket(seeded.services["C"], language="en", idempotency_key="tap-0001-abcdef")
        other = client.issue_ticket(seeded.services["C"], language="en", idempotency_key="tap-0002-abcdef")
    assert (first.id, first.replayed) != (again.id, again.replayed)
    assert again.id == first.id and again.replayed and not first.replayed
    assert other.id != first.id and other.people_ahead == 1


def test_server_down_then_back(make_harness: MakeHarness, server: Server) -> None:
    h = make_harness()
    h.pump_until(lambda: h.kiosk.screen == Screen.START)
    k = h.kiosk
    server.live.stop()
    # Noticed by the health check (or the event stream) without anybody touching the screen.
    h.pump_until(lambda: k.screen == Screen.UNAVAILABLE, timeout=10, what="unavailable")
    assert not k.online
    assert k.text("unavailable_body") == "We cannot issue tickets at the moment. Please ask at the desk."
    k.tap_service(k.services[0].id)  # nothing happens while unavailable
    assert screen(k) == Screen.UNAVAILABLE
    server.live.start()
    h.pump_until(lambda: k.screen == Screen.START, timeout=15, what="recovery")
    k.tap_service(k.services[0].id)
    h.pump_until(lambda: k.screen == Screen.RESULT)
    assert k.ticket is not None and k.ticket.number == "A001"
