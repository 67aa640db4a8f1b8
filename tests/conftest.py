from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Playwright, sync_playwright

from tests.support.databases import TemplateCache
from tests.support.rest import Rest
from tests.support.seed import Seeded, seed
from tests.support.server import LiveServer
from wins import app as app_module
from wins import clock
from wins.app import create_app
from wins.config import Settings
from wins.tickets import express


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the longest test files first. pytest-xdist (`--dist loadfile --no-loadscope-reorder`, scripts/test)
    hands out whole files in this order, so a long file (a fresh Debian install, the call storms) never starts
    last and runs alone while the other process idles: files with a slow test first, then by number of tests."""
    files: dict[Path, list[pytest.Item]] = defaultdict(list)
    for item in items:
        files[item.path].append(item)

    def longest_first(path: Path) -> tuple[bool, int]:
        tests = files[path]
        return (not any(t.get_closest_marker("slow") for t in tests), -len(tests))

    items[:] = [item for path in sorted(files, key=longest_first) for item in files[path]]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything imported and collected lives as long as the test process: frozen out of the garbage collector's
    sight, and young collections less often. A test process makes over a thousand apps (routes, models, compiled
    statements); collecting its ever larger heap again and again cost the suite ~10 % of its time. The server's
    own freeze at its first start (wins.app._freeze_once) is taken here for the whole session: it unfreezes
    again when that first app stops."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)
    app_module._frozen = True


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


class Api(Rest):
    """The shared REST client (tests.support.rest) on an in-process app."""

    def __init__(self, client: TestClient, data: Seeded) -> None:
        super().__init__(client, data)
        self.client = client


@pytest.fixture
def api(settings: Settings, seeded: Seeded) -> Iterator[Api]:
    with TestClient(create_app(settings)) as client:
        yield Api(client, seeded)


@pytest.fixture
def lane(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the issue express lane (wins.tickets.express) answered itself (None: it handed the request to the
    route), request by request."""
    answers: list[Any] = []
    original = express.IssueExpressLane._try

    async def spy(*args: Any) -> Any:
        answer = await original(*args)
        answers.append(answer)
        return answer

    monkeypatch.setattr(express.IssueExpressLane, "_try", staticmethod(spy))
    return answers


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
