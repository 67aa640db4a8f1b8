"""Faults and live updates of the kiosk core. The database does not matter here, so SQLite only (the
backend-sensitive paths run on both in test_state_live.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.kiosk.conftest import MakeHarness, Server
from tests.support.printer_emulator import PrinterEmulator
from wins_kiosk.model import PrintStatus, Screen
from wins_kiosk.printer import SpoolPrinter


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_tap_while_server_goes_down_then_retry_reuses_the_key(make_harness: MakeHarness, server: Server) -> None:
    keys: list[str] = []

    class Record(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/api/v1/tickets":
                keys.append(request.headers["Idempotency-Key"])
            return super().handle_request(request)

    h = make_harness(transport=Record(), follow_events=False, config={"health_check_seconds": 30})
    h.pump_until(lambda: h.kiosk.screen == Screen.START)
    k = h.kiosk
    server.live.stop()
    k.tap_service(k.services[0].id)
    h.pump_until(lambda: k.screen == Screen.UNAVAILABLE, what="unavailable after tap")
    assert len(keys) == 3 and len(set(keys)) == 1  # retried with one key
    server.live.start()
    k.on_stream(True)  # as the event stream would report
    h.pump_until(lambda: k.screen == Screen.START, what="recovery")
    k.tap_service(k.services[0].id)
    h.pump_until(lambda: k.screen == Screen.RESULT)
    assert set(keys) == {keys[0]}  # the same customer's retry: same key
    assert server.waiting_numbers() == ["A001"]


@pytest.mark.parametrize("fault", ["paper_out", "refused", "cover_open"])
def test_printer_fault_shows_ticket_spools_and_reports(
    make_harness: MakeHarness, server: Server, printer: PrinterEmulator, spool_printer: SpoolPrinter, fault: str
) -> None:
    if fault == "paper_out":
        printer.paper = "out"
    elif fault == "cover_open":
        printer.cover_open = True
    else:
        printer.refuse_connections()
    h = make_harness(printer=spool_printer)
    h.pump_until(lambda: h.kiosk.screen == Screen.START)
    k = h.kiosk
    k.tap_service(k.services[0].id)
    h.pump_until(lambda: k.print_status == PrintStatus.FAILED, what="print failed")
    assert k.screen == Screen.RESULT and k.ticket is not None and k.ticket.number == "A001"
    expected = {"paper_out": "paper_out", "cover_open": "cover_open", "refused": "offline"}[fault]
    assert k.printer_state == expected
    assert "A001" in k.text("printer_fault_note", number=k.ticket.number)
    assert spool_printer.pending_count() == 1
    h.pump_until(lambda: server.kiosk_status().get("printer") == expected, what="fault reported")
    assert server.kiosk_status()["spooled_slips"] == 1
    assert printer.jobs == []
    # Staff fix the printer: the spooled slip prints by itself and the server hears the printer is fine.
    printer.healthy()
    (job,) = printer.wait_for_jobs(1, timeout=10)
    assert b"A001" in job
    h.pump_until(lambda: k.printer_state == "online", what="printer back")
    h.pump_until(lambda: server.kiosk_status().get("printer") == "online", what="recovery reported")
    assert spool_printer.pending_count() == 0


def test_connection_dropped_mid_job_is_retried_whole(
    make_harness: MakeHarness, printer: PrinterEmulator, spool_printer: SpoolPrinter
) -> None:
    printer.drop_mid_job(after=200)
    h = make_harness(printer=spool_printer)
    h.pump_until(lambda: h.kiosk.screen == Screen.START)
    k = h.kiosk
    k.tap_service(k.services[2].id)
    h.pump_until(lambda: k.print_status != PrintStatus.PRINTING and k.screen == Screen.RESULT, what="printed")
    assert k.print_status == PrintStatus.PRINTED
    assert len(printer.dropped_jobs) == 1
    (job,) = printer.wait_for_jobs(1)
    assert b"C001" in job and b"\x1dV" in job[-16:]  # whole, down to the cut
    assert len(job) > len(printer.dropped_jobs[0])


def test_services_and_now_serving_follow_the_event_stream(make_harness: MakeHarness, server: Server) -> None:
    h = make_harness()
    h.pump_until(lambda: h.kiosk.screen == Screen.START)
    k = h.kiosk
    payments = server.seeded.services["B"]
    r = server.http.patch(
        f"/api/v1/services/{payments}", json={"active": False, "colour": "#aa0000"}, headers=server.auth("manager")
    )
    assert r.status_code == 200, r.text
    h.pump_until(lambda: [s.name for s in k.services] == ["General", "Documents"], what="service hidden")
    r = server.http.post(
        "/api/v1/services",
        json={"name": "Passports", "prefix": "P", "colour": "#00aa55"},
        headers=server.auth("manager"),
    )
    assert r.status_code == 201, r.text
    h.pump_until(lambda: "Passports" in [s.name for s in k.services], what="service added")
    assert [s.colour for s in k.services if s.name == "Passports"] == ["#00aa55"]

    k.tap_service(k.services[0].id)
    h.pump_until(lambda: k.screen == Screen.RESULT)
    r = server.http.post(f"/api/v1/counters/{server.seeded.counters['1']}/call-next", headers=server.auth("staff"))
    assert r.status_code == 200, r.text
    h.pump_until(lambda: [(n.number, n.counter_name) for n in k.now_serving] == [("A001", "1")], what="now serving")


def test_cli_checks_config_and_server(server: Server, tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'server_url = "{server.live.url}"\ndevice_token = "{server.seeded.tokens["kiosk"]}"\n'
        'printer_url = "dummy://"\nspool_dir = "spool"\n'
    )
    run = [sys.executable, "-m", "wins_kiosk", "--config", str(config), "--check"]
    ok = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "branch 'Test Branch', 3 active service(s)" in ok.stdout
    config.write_text(f'server_url = "{server.live.url}"\ndevice_token = "wrong"\n')
    refused = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "401" not in refused.stdout
    config.write_text('server_url = "nope"\ndevice_token = "x"\n')
    bad = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "server_url must start with http" in bad.stderr
