from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.support.receiver import Received
from tests.support.seed import Seeded
from wins.app import create_app
from wins.config import Settings

T = TypeVar("T")


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    """Quick retries, so a test sees back-off and pausing in well under a second."""
    return settings.model_copy(
        update={
            "webhook_poll_seconds": 0.05,
            "webhook_retry_base_seconds": 0.05,
            "webhook_retry_max_seconds": 0.2,
            "webhook_pause_after_failures": 4,
            "webhook_timeout_seconds": 2.0,
        }
    )


@pytest.fixture
def hooks_api(fast_settings: Settings, seeded: Seeded) -> Iterator[Api]:
    with TestClient(create_app(fast_settings)) as client:
        yield Api(client, seeded)


def register(api: Api, url: str, types: list[str] | None = None) -> dict[str, Any]:
    body = {"url": url, "event_types": types or ["ticket.*"]}
    created: dict[str, Any] = api.post("/api/v1/webhooks", "admin", json=body, expect=201)
    return created


def verified(got: Received, secret: str) -> dict[str, Any]:
    """The event of a delivery whose signature is right (the receiver's own check, as documented)."""
    expected = "sha256=" + hmac.new(secret.encode(), got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["x-wins-signature"], expected), "bad signature"
    event: dict[str, Any] = json.loads(got.body)
    assert got.headers["x-wins-event"] == event["type"]
    assert got.headers["content-type"] == "application/json"
    return event


def eventually(check: Callable[[], T], timeout: float = 10.0) -> T:
    """`check()` once it stops raising AssertionError: for state another thread commits just after the receiver
    has answered (the delivery log, the endpoint's state)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.02)


def page(api: Api, who: str, path: str) -> str:
    """A staff page's HTML as the signed-in browser of `who` gets it (a session cookie, as wins.web signs it)."""
    from wins.db import Database
    from wins.staff.models import StaffUser
    from wins.staff.security import sign

    app: Any = api.client.app
    db: Database = app.state.db
    with db.session(write=False) as session:
        user = session.get(StaffUser, api.data.users[who])
        assert user is not None
        payload = {"sid": user.id, "v": user.token_version, "csrf": "csrf-for-tests"}
    cookie = sign(app.state.settings.effective_secret_key, "web-session", payload)
    api.client.cookies.clear()
    r = api.client.get(path, headers={"Cookie": f"wins_session={cookie}"}, follow_redirects=False)
    assert r.status_code == 200, r.text
    return str(r.text)
