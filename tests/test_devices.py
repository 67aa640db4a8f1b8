"""Device settings through the devices service."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from wins.devices import service as devices
from wins.errors import ValidationFailed


def _display_id(api: Api) -> int:
    listed = api.client.get("/api/v1/devices", headers=api.auth("admin")).json()
    return int(next(d["id"] for d in listed if d["kind"] == "display"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"layout": "mosaic"}, "layout: Input should be 'calls' or 'counters'"),
        ({"history": 40}, "history: Input should be less than or equal to 12"),
        ({"service_ids": [2**70]}, "services.0: Input should be less than or equal to 2147483647"),
        ({"service_ids": [999]}, "Service 999 does not exist"),
        ({"counter_ids": [999]}, "Counter 999 does not exist"),
    ],
)
def test_display_settings_are_validated(api: Api, change: dict[str, Any], message: str) -> None:
    values = {"service_ids": [], "counter_ids": [], "layout": "calls", "history": 6, "speech": True, "title": ""}
    db = api.client.app.state.db  # type: ignore[attr-defined]
    with pytest.raises(ValidationFailed, match=message), db.session() as session:
        devices.configure_display(session, _display_id(api), **{**values, **change}, actor=None)


def test_display_settings_are_stored(api: Api) -> None:
    db = api.client.app.state.db  # type: ignore[attr-defined]
    with db.session() as session:
        devices.configure_display(
            session,
            _display_id(api),
            service_ids=[api.data.services["B"]],
            counter_ids=[],
            layout="counters",
            history=3,
            speech=False,
            title=" Hall ",
            actor=None,
        )
    listed = api.client.get("/api/v1/devices", headers=api.auth("admin")).json()
    config = next(d for d in listed if d["kind"] == "display")["config"]
    assert config == {
        "services": [api.data.services["B"]],
        "counters": [],
        "layout": "counters",
        "history": 3,
        "speech": False,
        "title": "Hall",
        "languages": [],  # not set: the defaults
        "allow_priority": False,
        "default_language": None,  # (the web kiosk's: unset)
        "idle_timeout_seconds": None,
        "result_seconds": None,
    }
