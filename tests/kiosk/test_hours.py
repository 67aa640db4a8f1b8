"""The Kivy kiosk and opening hours: the service list's `open_now` / `opens_at` become "Closed · opens …" on the
service's tile (translated), and a tap on a closed service shows the kiosk's words for it (core and real Kivy)."""

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


@pytest.mark.kivy
@pytest.mark.slow
def test_kivy_tile_of_a_closed_service(server: Server, tmp_path: Path) -> None:
    tomorrow = close_documents_until_tomorrow(server)
    env = kivy_env(tmp_path)
    env.update(
        KIOSK_TEST_SERVER=server.live.url,
        KIOSK_TEST_TOKEN=server.seeded.tokens["kiosk"],
        KIOSK_TEST_TMP=str(tmp_path),
        KIOSK_TEST_CLOSED_LABEL=f"Documents\nClosed · opens {tomorrow.strftime('%d/%m')} at 08:30",
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
