"""gunicorn with the shipped config and 2 workers: JSON on every line (master, workers, app), and /metrics adds
up both workers' figures (prometheus-client's multi-process mode)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.deploy.conftest import empty_pg_database, prepare_database, stop, wait_for_health
from tests.deploy.test_gunicorn import Gunicorn, start_gunicorn
from tests.support.seed import Seeded

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ISSUES = 24


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gunicorn, Seeded]]:
    tmp = tmp_path_factory.mktemp("gunicorn-ops")
    with empty_pg_database() as database_url:
        seeded = prepare_database(database_url, tmp / "data")
        server = start_gunicorn(database_url, tmp, workers=2, name="ops", WINS_LOG_FORMAT="json", WINS_LOG_LEVEL="INFO")
        try:
            wait_for_health(server.url, server.proc, timeout=60, log=server.log)
            yield server, seeded
        finally:
            stop(server.proc)


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def test_metrics_add_up_both_workers(site: tuple[Gunicorn, Seeded]) -> None:
    server, seeded = site
    kiosk = {"Authorization": f"Bearer {seeded.tokens['kiosk']}"}
    for _ in range(ISSUES):  # a new connection each: the kernel spreads them over both workers
        r = httpx.post(server.url + "/api/v1/tickets", json={"service_id": seeded.services["B"]}, headers=kiosk)
        assert r.status_code == 201, r.text
    staff = {"Authorization": f"Bearer {seeded.tokens['staff']}"}
    counter = seeded.counters["3"]  # serves B first
    assert httpx.post(f"{server.url}/api/v1/counters/{counter}/open", headers=staff).status_code == 200
    assert httpx.post(f"{server.url}/api/v1/counters/{counter}/call-next", headers=staff).status_code == 200
    for _ in range(6):  # whichever worker answers, the figures are the same
        values = _samples(httpx.get(server.url + "/metrics").text)
        assert values[("wins_http_request_duration_seconds_count", (("kind", "issue"),))] == ISSUES
        b = {name: v for (name, labels), v in values.items() if labels and dict(labels).get("service") == "B"}
        assert b["wins_tickets_issued_today"] == ISSUES
        assert b["wins_tickets_waiting"] == ISSUES - 1
        assert b["wins_tickets_called_today"] == 1
    log = server.log.read_text()
    pids = {json.loads(line).get("msg", "").split()[-1] for line in log.splitlines() if "Booting worker" in line}
    assert len(pids) == 2


def test_every_line_is_json_and_once(site: tuple[Gunicorn, Seeded]) -> None:
    server, _ = site
    httpx.get(server.url + "/health")
    lines = [line for line in Path(server.log).read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # raises on any plain-text line
    loggers = {r["logger"] for r in records}
    assert {"gunicorn.error", "wins.app", "wins.access"} <= loggers
    ready = [r for r in records if r["logger"] == "wins.app" and "ready on" in r["msg"]]
    assert len(ready) == 2  # one per worker, not two per worker
    assert len({r["ts"] + r["msg"] for r in records}) == len(records)
