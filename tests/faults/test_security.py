"""Tracking tokens, login throttling and security headers."""

from __future__ import annotations

import base64
import re

import pytest

from tests.conftest import Api
from tests.support.seed import PASSWORD
from wins.app import CONTENT_SECURITY_POLICY
from wins.schemas import TicketTracking


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_tracking_tokens_are_unguessable_and_unrelated_to_the_ticket(api: Api) -> None:
    tickets = [api.issue("A") for _ in range(60)]
    tokens = [t["tracking_token"] for t in tickets]
    assert len(set(tokens)) == len(tokens)
    for t in tickets:
        token = t["tracking_token"]
        assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", token), token
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 24  # >= 192 random bits
        assert t["number"] not in token
    # Consecutive tickets share no structure (no counter, no timestamp prefix).
    prefixes = {token[:6] for token in tokens}
    assert len(prefixes) == len(tokens)


def test_tracking_reveals_only_that_ticket(api: Api) -> None:
    mine = api.issue("A", language="fr")
    other = api.issue("A")
    public = api.client.get(f"/api/v1/public/tickets/{mine['tracking_token']}")
    assert public.status_code == 200
    assert set(public.json()) == set(TicketTracking.model_fields)
    body = public.text
    for secret in (other["tracking_token"], other["number"], mine["tracking_token"], '"id"', "staff"):
        assert secret not in body
    api.call_next("1")
    called = api.client.get(f"/api/v1/public/tickets/{mine['tracking_token']}").json()
    assert called["counter_name"] == "1" and "staff" not in str(called).lower()
    updates = api.client.get(f"/api/v1/public/tickets/{other['tracking_token']}/updates?timeout=0").json()
    assert set(updates) == {"ticket", "last_id"} and set(updates["ticket"]) == set(TicketTracking.model_fields)
    token = mine["tracking_token"]
    one_off = token[:-1] + ("B" if token.endswith("A") else "A")  # never the real token itself
    for guess in ("", "x", one_off, "A" * 43, "../../api/v1/queue"):
        r = api.client.get(f"/api/v1/public/tickets/{guess}")
        assert r.status_code in (404, 405), (guess, r.status_code)
        assert mine["number"] not in r.text
    page = api.client.get(f"/t/{'B' * 43}")
    assert page.status_code == 404


def test_login_is_throttled_per_account(api: Api) -> None:
    answers = [
        api.client.post("/api/v1/auth/token", data={"username": "staff2", "password": "guess-" + str(i)}).status_code
        for i in range(8)
    ]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
    # The right password does not get through while the lock holds, on the API or the sign-in page.
    assert api.client.post("/api/v1/auth/token", data={"username": "staff2", "password": PASSWORD}).status_code == 429
    api.client.cookies.clear()
    form = {"username": "staff2", "password": PASSWORD, "csrf_token": "c" * 20}
    page = api.client.post(
        "/login", data=form, headers={"Cookie": "wins_login_csrf=" + "c" * 20}, follow_redirects=False
    )
    assert page.status_code == 429 and "wins_session" not in page.headers.get("set-cookie", "")
    # Other accounts are unaffected.
    assert api.client.post("/api/v1/auth/token", data={"username": "staff", "password": PASSWORD}).status_code == 200


@pytest.mark.parametrize("path", ["/login", "/display", "/docs", "/health", "/api/v1/queue", "/t/{token}", "/staff"])
def test_security_headers_on_pages_and_api(api: Api, path: str) -> None:
    ticket = api.issue("A")
    r = api.client.get(path.format(token=ticket["tracking_token"]), follow_redirects=False)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    if r.headers.get("content-type", "").startswith("text/html"):
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
