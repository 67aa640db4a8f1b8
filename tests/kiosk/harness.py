"""Drive the kiosk core the way the Kivy app does (worker threads, results posted back to one loop), without
Kivy: `pump_until` runs the posted calls and the timers until a condition holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx

from wins_kiosk.client import EventFollower, KioskClient
from wins_kiosk.config import KioskConfig
from wins_kiosk.guidance import Speaker
from wins_kiosk.model import TicketPrinter
from wins_kiosk.runner import CallQueue, ThreadRunner
from wins_kiosk.state import Kiosk


def fast_config(server_url: str, token: str, tmp_path: Path, **changes: object) -> KioskConfig:
    config = KioskConfig(
        server_url=server_url,
        device_token=token,
        languages=["en", "fr"],
        idle_timeout_seconds=30,
        result_seconds=5,
        operator_pin="2468",
        fullscreen=False,
        spool_dir=tmp_path / "spool",
        request_timeout_seconds=3,
        health_check_seconds=0.3,
        spool_retry_seconds=0.5,
    )
    return replace(config, **changes)  # type: ignore[arg-type]


class Harness:
    def __init__(
        self,
        config: KioskConfig,
        *,
        printer: TicketPrinter | None = None,
        transport: httpx.BaseTransport | None = None,
        follow_events: bool = True,
        clock: Callable[[], float] = time.monotonic,
        speaker: Speaker | None = None,
    ) -> None:
        self.loop = CallQueue()
        self.runner = ThreadRunner(self.loop.post)
        self.config = config

        def make_client() -> KioskClient:
            return KioskClient(
                config.server_url, config.device_token, timeout=config.request_timeout_seconds, transport=transport
            )

        self.kiosk = Kiosk(
            config, make_client=make_client, runner=self.runner, printer=printer, clock=clock, speaker=speaker
        )
        self.follower: EventFollower | None = None
        if follow_events:
            self.follower = EventFollower(
                lambda: KioskClient(config.server_url, config.device_token, timeout=2.0),
                on_events=lambda events: self.loop.post(lambda: self.kiosk.on_events(events)),
                on_connection=lambda ok: self.loop.post(lambda: self.kiosk.on_stream(ok)),
                wait=1.0,
                retry_seconds=0.3,
            )

    def start(self) -> Harness:
        self.kiosk.start()
        if self.follower is not None:
            self.follower.start()
        return self

    def close(self) -> None:
        if self.follower is not None:
            self.follower.stop()
        self.runner.shutdown()
        self.kiosk.close()

    def pump(self, seconds: float = 0.1) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.loop.run_pending(wait=0.02)
            self.kiosk.tick()

    def pump_until(self, condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.loop.run_pending(wait=0.02)
            self.kiosk.tick()
            if condition():
                return
        k = self.kiosk
        raise AssertionError(
            f"timed out waiting for {what or condition}: screen={k.screen} online={k.online} "
            f"print={k.print_status} printer={k.printer_state}"
        )
