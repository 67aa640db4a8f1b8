"""A short soak (the full busy day is `bench/soak.py`): kiosks, counters and displays for a few hundred
tickets; every display gets every event exactly once and in order, and memory stays flat after warm-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_short_busy_day_loses_nothing_and_does_not_grow() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--tickets", "500", "--counters", "5", "--displays", "10"]
        + ["--json"],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["events"] >= 4 * 500  # issued, called, serving, done
    assert result["displays_with_every_event_once_in_order"] == 10, result
    assert result["subscriber_errors"] == 0, result
    assert result["growth_percent"] < 10, result
