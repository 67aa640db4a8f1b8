from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.kiosk.harness import Harness, fast_config
from tests.support.printer_emulator import PrinterEmulator
from tests.support.rest import Rest
from tests.support.seed import Seeded
from tests.support.server import LiveServer
from wins_kiosk.printer import SpoolPrinter


@pytest.fixture
def printer() -> Iterator[PrinterEmulator]:
    with PrinterEmulator() as emulator:
        yield emulator


class Server(Rest):
    """The live server seen by staff (the shared REST client, tests.support.rest): to check what the kiosk did."""

    def __init__(self, live: LiveServer, seeded: Seeded) -> None:
        super().__init__(httpx.Client(base_url=live.url, timeout=10), seeded)
        self.live = live
        self.seeded = seeded

    def waiting_numbers(self) -> list[str]:
        queue = self.get("/api/v1/queue")
        assert isinstance(queue, dict)
        return [t["number"] for s in queue["services"] for t in s["tickets"]]

    def kiosk_status(self) -> dict[str, object]:
        devices = self.get("/api/v1/devices")
        assert isinstance(devices, list)
        (kiosk,) = [d for d in devices if d["kind"] == "kiosk"]
        return dict(kiosk["status"])


MakeHarness = Callable[..., Harness]  # make_harness(**Harness options, config={...}) -> a started Harness


@pytest.fixture
def server(live_server: LiveServer, seeded: Seeded) -> Iterator[Server]:
    s = Server(live_server, seeded)
    yield s
    s.http.close()


@pytest.fixture
def make_harness(live_server: LiveServer, seeded: Seeded, tmp_path: Path) -> Iterator[MakeHarness]:
    made: list[Harness] = []

    def make(**kwargs: object) -> Harness:
        config_changes = kwargs.pop("config", {})
        assert isinstance(config_changes, dict)
        config = fast_config(live_server.url, seeded.tokens["kiosk"], tmp_path, **config_changes)
        harness = Harness(config, **kwargs)  # type: ignore[arg-type]
        made.append(harness)
        return harness.start()

    yield make
    for harness in made:
        harness.close()


@pytest.fixture
def spool_printer(printer: PrinterEmulator, tmp_path: Path) -> Iterator[SpoolPrinter]:
    sp = SpoolPrinter(printer.url, tmp_path / "spool", retry_seconds=0.5, timeout=1.0).start()
    yield sp
    sp.stop()
