"""Logging: one line per request and per state change, as text or JSON."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.seed import seed
from wins.app import create_app
from wins.config import Settings


def test_json_log_lines_for_requests_and_state_changes(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        database_url=sqlite_url, data_dir=tmp_path, secret_key="j" * 40, log_format="json", log_level="INFO"
    )
    data = seed(settings)
    try:
        with TestClient(create_app(settings)) as client:
            r = client.post(
                "/api/v1/tickets",
                json={"service_id": data.services["A"]},
                headers={"Authorization": f"Bearer {data.tokens['kiosk']}"},
            )
            assert r.status_code == 201
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        logging.getLogger().setLevel(logging.WARNING)
    messages = [(entry["logger"], entry["msg"]) for entry in lines]
    assert ("wins.tickets.service", "ticket A001 issued for General by device:kiosk") in messages
    assert any(logger == "wins.access" and msg.startswith("POST /api/v1/tickets 201 ") for logger, msg in messages)
    assert all({"ts", "level", "logger", "msg"} <= entry.keys() for entry in lines)
