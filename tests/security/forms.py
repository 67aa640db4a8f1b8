"""A signed-in browser session on the in-process app (cookie + the page's CSRF token), for form posts."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.support.seed import PASSWORD


@dataclass
class FormSession:
    client: TestClient
    csrf: str

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)


def sign_in(app: Any, username: str) -> FormSession:
    client = TestClient(app, raise_server_exceptions=False)  # the app is already running (the api fixture)
    client.get("/login")
    form = {"username": username, "password": PASSWORD, "csrf_token": client.cookies["wins_login_csrf"]}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    page = client.get("/admin/branch" if username != "staff" else "/staff")
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match, page.text[:300]
    return FormSession(client, match.group(1))


@pytest.fixture
def signed_in(api: Api) -> Iterator[Callable[[str], FormSession]]:
    opened: list[FormSession] = []

    def open_as(username: str) -> FormSession:
        opened.append(sign_in(api.client.app, username))
        return opened[-1]

    yield open_as
    for b in opened:
        b.client.close()
