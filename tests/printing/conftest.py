from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.support.printer_emulator import PrinterEmulator
from wins.printing import Slip


def make_slip(**changes: object) -> Slip:
    values: dict[str, object] = {
        "branch_name": "Main Street",
        "number": "A007",
        "service_name": "General",
        "issued_at": datetime(2024, 5, 3, 16, 5, tzinfo=ZoneInfo("Europe/Paris")),
        "people_ahead": 3,
        "estimated_wait_seconds": 540,
        "estimated_wait_range": [300, 900],
        "tracking_url": "http://queue.lan:8000/t/abcDEF123",
        "footer": "Thank you",
        "language": "en",
    }
    values.update(changes)
    return Slip(**values)  # type: ignore[arg-type]


@pytest.fixture
def slip() -> Slip:
    return make_slip()


@pytest.fixture
def emulator() -> Iterator[PrinterEmulator]:
    with PrinterEmulator() as printer:
        yield printer
