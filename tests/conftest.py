from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Playwright, sync_playwright

from tests.support.databases import TemplateCache
from tests.support.seed import Seeded, seed
from tests.support.server import LiveServer
from wins import clock
from wins.app import create_app
from wins.config import Settings


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemplateCache]:
    cache = TemplateCache(tmp_path_factory.mktemp("templates"))
    yield cache
    cache.drop_all()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, templates: TemplateCache, tmp_path: Path) -> Iterator[str]:
    with templates.database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_url(templates: TemplateCache, tmp_path: Path) -> Iterator[str]:
    with templates.database("sqlite", tmp_path) as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key="t" * 40,
        event_poll_seconds=0.5,
        log_level="WARNING",
    )


@pytest.fixture
def seeded(settings: Settings) -> Seeded:
    return seed(settings)


@dataclass
class Api:
    """An in-process client plus the seeded ids and tokens."""

    client: TestClient
    data: Seeded

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.data.tokens[who]}"}

    def issue(self, prefix: str = "A", *, who: str = "kiosk", key: str | None = None, **body: object) -> dict:
        headers = self.auth(who)
        if key:
            headers["Idempotency-Key"] = key
        r = self.client.post(
            "/api/v1/tickets", json={"service_id": self.data.services[prefix], **body}, headers=headers
        )
        assert r.status_code in (200, 201), r.text
        return r.json()

    def call_next(self, counter: str = "1", *, who: str = "staff") -> dict | None:
        r = self.client.post(f"/api/v1/counters/{self.data.counters[counter]}/call-next", headers=self.auth(who))
        assert r.status_code in (200, 204), r.text
        return r.json() if r.status_code == 200 else None

    def act(self, ticket_id: int, action: str, *, who: str = "staff", expect: int = 200) -> dict:
        r = self.client.post(f"/api/v1/tickets/{ticket_id}/{action}", headers=self.auth(who))
        assert r.status_code == expect, r.text
        return r.json()


@pytest.fixture
def api(settings: Settings, seeded: Seeded) -> Iterator[Api]:
    with TestClient(create_app(settings)) as client:
        yield Api(client, seeded)


@pytest.fixture
def live_server(settings: Settings, seeded: Seeded, tmp_path: Path) -> Iterator[LiveServer]:
    """A real uvicorn process on the test database (seeded)."""
    env = {
        "WINS_DATABASE_URL": settings.database_url,
        "WINS_SECRET_KEY": settings.secret_key,
        "WINS_DATA_DIR": str(settings.data_dir),
        "WINS_EVENT_POLL_SECONDS": "0.5",
    }
    server = LiveServer(env, log_path=tmp_path / "server.log")
    with server:
        yield server


@pytest.fixture(autouse=True)
def _unfreeze_clock() -> Iterator[None]:
    yield
    clock.freeze(None)
