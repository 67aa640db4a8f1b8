"""/metrics (Prometheus) and /health: queue figures from the database, latency, screens, printers, access."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Api
from tests.support.seed import Seeded
from wins.app import create_app
from wins.config import Settings
from wins.version import full_version


def scrape(client: TestClient, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def per_service(values: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> dict[str, float]:
    return {dict(labels)["service"]: value for (metric, labels), value in values.items() if metric == name}


def test_queue_figures_after_issuing_and_calling(api: Api) -> None:
    before = scrape(api.client)
    assert per_service(before, "wins_tickets_issued_today") == {"A": 0, "B": 0, "C": 0}
    first = api.issue("A")
    api.issue("A")
    api.issue("B")
    called = api.call_next("1")
    assert called is not None and called["id"] == first["id"]
    api.act(called["id"], "start")
    api.act(called["id"], "complete")
    values = scrape(api.client)
    assert per_service(values, "wins_tickets_issued_today") == {"A": 2, "B": 1, "C": 0}
    assert per_service(values, "wins_tickets_called_today") == {"A": 1, "B": 0, "C": 0}
    assert per_service(values, "wins_tickets_served_today") == {"A": 1, "B": 0, "C": 0}
    assert per_service(values, "wins_tickets_waiting") == {"A": 1, "B": 1, "C": 0}
    oldest = per_service(values, "wins_oldest_wait_seconds")
    assert oldest["A"] >= 0 and oldest["C"] == 0
    assert values[("wins_event_lag", ())] >= 0
    issue_count = ("wins_http_request_duration_seconds_count", (("kind", "issue"),))
    assert values[issue_count] - before.get(issue_count, 0) == 3


def test_printer_states_and_screens(api: Api) -> None:
    r = api.client.post(
        "/api/v1/devices/me/status", json={"status": {"printer": "paper_out"}}, headers=api.auth("kiosk")
    )
    assert r.status_code == 200, r.text
    values = scrape(api.client)
    assert values[("wins_printer_state", (("device", "kiosk"), ("state", "paper_out")))] == 1
    screens = ("wins_websocket_connections", ())
    idle = values[screens]
    with api.client.websocket_connect("/api/v1/events/ws", headers=api.auth("display")) as ws:
        assert ws.receive_json()["type"] == "hello"
        assert scrape(api.client)[screens] == idle + 1
    assert scrape(api.client)[screens] == idle


@pytest.fixture
def guarded(settings: Settings, seeded: Seeded) -> Iterator[TestClient]:
    guarded = settings.model_copy(update={"metrics_token": "scrape-me-" + "z" * 20, "metrics_allow": "10.0.0.0/8"})
    with TestClient(create_app(guarded), client=("10.1.2.3", 4000)) as client:
        yield client


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_token_and_allow_list(guarded: TestClient, settings: Settings) -> None:
    assert guarded.get("/metrics").status_code == 403
    assert guarded.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    scrape(guarded, Authorization="Bearer scrape-me-" + "z" * 20)
    app = guarded.app
    with TestClient(app, client=("192.168.1.9", 4000)) as outsider:
        r = outsider.get("/metrics", headers={"Authorization": "Bearer scrape-me-" + "z" * 20})
        assert r.status_code == 403


def test_health_shows_event_stream_and_version(api: Api) -> None:
    r = api.client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["event_stream"] == "ok"
    assert body["version"] == full_version()
    assert body["version"].startswith(api.client.app.version)  # type: ignore[attr-defined]


def _sign_in(client: TestClient, username: str) -> None:
    import re

    from tests.support.seed import PASSWORD

    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    r = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def test_admin_pages_show_the_version(api: Api) -> None:
    _sign_in(api.client, "admin")
    page = api.client.get("/admin/users")
    assert page.status_code == 200
    assert f"WINS {full_version()}</footer>" in page.text
    api.client.cookies.clear()
    _sign_in(api.client, "staff")
    assert full_version() not in api.client.get("/staff").text


def test_health_reports_a_stopped_event_stream(settings: Settings, seeded: Seeded) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/health").json()["event_stream"] == "ok"
    # After shutdown the hub's tasks are gone: the API still answers, the body says what is wrong.
    r = TestClient(app).get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "degraded" and r.json()["event_stream"] == "stopped"
