"""The Kivy kiosk and opening hours: the service list's `open_now` / `opens_at` become "Closed · opens …" on the
service's tile (translated), and a tap on a closed service shows the kiosk's words for it; a service staff stopped
is shown "not issuing tickets now" with no button, as on the web kiosk (core and real Kivy)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.kiosk.conftest import MakeHarness, Server
from tests.kiosk.test_app_kivy import REPO, kivy_env
from wins_kiosk.model import Screen

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture
def backend() -> str:
    return "sqlite"


def close_documents_until_tomorrow(server: Server) -> datetime:
    tomorrow = datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=1)
    hours = {"weekly": {DAYS[tomorrow.weekday()]: [{"opens": "08:30", "closes": "12:00"}]}}
    r = server.http.patch(
        f"/api/v1/services/{server.data.services['C']}", json={"hours": hours}, headers=server.auth("manager")
    )
    assert r.status_code == 200, r.text
    return tomorrow


def test_closed_service_label_and_refused_tap(make_harness: MakeHarness, server: Server) -> None:
    tomorrow = close_documents_until_tomorrow(server)
    h = make_harness()
    h.pump_until(lambda: h.kiosk.screen == Screen.START, what="start screen")
    k = h.kiosk
    general, payments, documents = k.services
    assert general.open_now and not documents.open_now
    day = tomorrow.strftime("%d/%m")
    assert k.service_label(documents) == f"Documents\nClosed · opens {day} at 08:30"
    assert k.service_label(general) == "General"
    assert [i.label for i in k.focus_items()][:3] == ["General", "Payments", k.service_label(documents)]
    k.set_language("fr")
    assert k.service_label(documents) == f"Documents\nFermé · ouvre le {day} à 08:30"
    k.tap_service(documents.id)
    h.pump_until(lambda: k.screen == Screen.START and k.notice == "service_closed", what="closed notice")
    assert server.waiting_numbers() == []


def stop_payments(server: Server) -> None:
    r = server.http.patch(
        f"/api/v1/services/{server.data.services['B']}", json={"active": False}, headers=server.auth("manager")
    )
    assert r.status_code == 200, r.text


def test_stopped_service_is_named_not_issuing_and_no_button(make_harness: MakeHarness, server: Server) -> None:
    stop_payments(server)
    h = make_harness()
    h.pump_until(lambda: h.kiosk.screen == Screen.START and h.kiosk.stopped_services != [], what="start screen")
    k = h.kiosk
    (payments,) = k.stopped_services
    assert [s.name for s in k.services] == ["General", "Documents"]
    # The web kiosk's words (one catalogue), in the customer's language.
    assert k.service_label(payments) == "Payments: not issuing tickets now"
    k.set_language("fr")
    assert k.service_label(payments) == "Payments: pas de nouveaux tickets pour le moment"
    assert not [i for i in k.focus_items() if i.key == f"service:{payments.id}"]  # the keys cannot reach it
    k.tap_service(payments.id)  # nor can a tap issue from it
    assert k.screen == Screen.START and server.waiting_numbers() == []
    # Issuing again: the kiosk follows the change by itself (the service event reloads the list).
    r = server.http.patch(f"/api/v1/services/{payments.id}", json={"active": True}, headers=server.auth("manager"))
    assert r.status_code == 200, r.text
    h.pump_until(lambda: k.stopped_services == [] and len(k.services) == 3, what="service issuing again")
    # An archived service is gone altogether.
    documents = server.data.services["C"]
    r = server.http.post(f"/api/v1/services/{documents}/archive", headers=server.auth("manager"))
    assert r.status_code == 200, r.text
    h.pump_until(lambda: [s.name for s in k.services] == ["General", "Payments"], what="archived service gone")
    assert k.stopped_services == []


@pytest.mark.kivy
@pytest.mark.slow
def test_kivy_tile_of_a_closed_service(server: Server, tmp_path: Path) -> None:
    tomorrow = close_documents_until_tomorrow(server)
    stop_payments(server)
    env = kivy_env(tmp_path)
    env.update(
        KIOSK_TEST_SERVER=server.live.url,
        KIOSK_TEST_TOKEN=server.seeded.tokens["kiosk"],
        KIOSK_TEST_TMP=str(tmp_path),
        KIOSK_TEST_CLOSED_LABEL=f"Documents\nClosed · opens {tomorrow.strftime('%d/%m')} at 08:30",
        KIOSK_TEST_STOPPED_LABEL="Payments: not issuing tickets now",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "unittest", "-v", "tests.kiosk.kivy_hours_cases"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    assert "Ran 1 test" in proc.stderr and "OK" in proc.stderr
    assert server.waiting_numbers() == []
    assert (tmp_path / "start-not-issuing.png").is_file()
