"""Issue 11: sign-in throttling per client address, sign-out that ends sessions on the server, revocations that
do not linger in the principal cache. SQLite and PostgreSQL (the counters and generations live in the database)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from argon2 import PasswordHasher, extract_parameters
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.support.seed import PASSWORD, Seeded
from wins import clock
from wins.app import create_app
from wins.config import Settings
from wins.staff import security

TOKEN = "/api/v1/auth/token"
ACCOUNT_LIMIT = 3
CLIENT_LIMIT = 8


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "login_max_failures": ACCOUNT_LIMIT,
            "login_lock_seconds": 120,
            "login_client_max_failures": CLIENT_LIMIT,
            "login_client_window_seconds": 600,
            "login_client_lock_seconds": 600,
        }
    )


@pytest.fixture
def app(limited: Settings, seeded: Seeded) -> Iterator[FastAPI]:
    application = create_app(limited)
    with TestClient(application):  # runs the lifespan once; the clients below share it
        yield application


def client_at(app: FastAPI, address: str) -> TestClient:
    """A browser or script at this client address."""
    return TestClient(app, client=(address, 40000))


def token_login(client: TestClient, username: str, password: str) -> tuple[int, str]:
    r = client.post(TOKEN, data={"username": username, "password": password})
    return r.status_code, r.json().get("detail", "") if r.status_code != 200 else r.json()["access_token"]


def web_login(client: TestClient, username: str, password: str) -> TestClient:
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def _wait(detail: str) -> str:
    return re.sub(r"\d+ seconds", "N seconds", detail)


# -- throttling -----------------------------------------------------------------------------------------------


def test_an_attacker_locks_only_their_own_address_out_of_an_account(app: FastAPI) -> None:
    attacker, colleague = client_at(app, "203.0.113.7"), client_at(app, "192.0.2.10")
    for _ in range(ACCOUNT_LIMIT):
        assert token_login(attacker, "admin", "wrong-password")[0] == 401
    status, detail = token_login(attacker, "admin", PASSWORD)
    assert status == 429 and "Try again in" in detail
    # The real admin, elsewhere, is not locked out (the old per-account lock refused everyone).
    status, token = token_login(colleague, "admin", PASSWORD)
    assert status == 200
    assert colleague.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()["username"] == "admin"
    # …and the web form agrees.
    web_login(client_at(app, "192.0.2.11"), "admin", PASSWORD)


def test_unknown_users_and_wrong_passwords_get_the_same_answers(app: FastAPI) -> None:
    def attempts(address: str, username: str) -> list[tuple[int, str]]:
        client = client_at(app, address)
        return [
            (status, _wait(detail))
            for status, detail in (token_login(client, username, "wrong-password") for _ in range(ACCOUNT_LIMIT + 2))
        ]

    known = attempts("198.51.100.1", "manager")
    unknown = attempts("198.51.100.2", "no-such-user")
    assert known == unknown
    assert [s for s, _ in known] == [401] * ACCOUNT_LIMIT + [429, 429]
    assert known[0][1] == "Wrong username or password."


def test_an_unknown_user_costs_a_password_check_like_a_known_one(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    # argon2 takes tens of milliseconds; answering an unknown name at once would tell names apart by time. So an
    # unknown name runs a real argon2 verification too (against a dummy hash): checked by what runs, not by a
    # stopwatch (timings on a shared test box are noise).
    # An account made by an admin (the seeded ones get cheap test hashes, tests/support/seed.py).
    admin = token_login(client_at(app, "198.51.100.4"), "admin", PASSWORD)[1]
    made = client_at(app, "198.51.100.4").post(
        "/api/v1/users",
        json={"username": "newcomer", "password": "a-long-enough-password", "role": "staff"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert made.status_code == 201, made.text
    client = client_at(app, "198.51.100.3")
    verified: list[str] = []
    real = security._hasher

    class Counting:
        def verify(self, password_hash: str, password: str) -> bool:
            verified.append(password_hash)
            return bool(real.verify(password_hash, password))

    monkeypatch.setattr(security, "_hasher", Counting())
    assert token_login(client, "newcomer", "wrong-password")[0] == 401
    assert token_login(client, "nobody-here", "wrong-password")[0] == 401
    assert len(verified) == 2 and all(h.startswith("$argon2") for h in verified), verified
    assert verified[1] == security._dummy_hash()  # the unknown name paid for a full argon2 check…
    # …with the same parameters (time, memory, lanes) as a real account's hash: the same cost.
    assert (
        extract_parameters(verified[0])
        == extract_parameters(verified[1])
        == extract_parameters(PasswordHasher().hash("x"))
    )


def test_one_address_trying_many_usernames_is_refused_everywhere(app: FastAPI) -> None:
    sprayer = client_at(app, "203.0.113.50")
    for i in range(CLIENT_LIMIT):
        assert token_login(sprayer, f"user{i}", "wrong-password")[0] == 401
    # Even the right password for a real account: this address may not sign in for a while, by API or form.
    assert token_login(sprayer, "staff", PASSWORD)[0] == 429
    page = sprayer.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    form = sprayer.post(
        "/login",
        data={"username": "staff", "password": PASSWORD, "csrf_token": csrf.group(1)},
        follow_redirects=False,
    )
    assert form.status_code == 429 and "Too many failed sign-ins" in form.text
    assert "wins_session" not in form.cookies
    # Other addresses are unaffected.
    assert token_login(client_at(app, "203.0.113.51"), "staff", PASSWORD)[0] == 200


def test_the_counters_are_shared_by_every_worker(app: FastAPI, limited: Settings) -> None:
    # Two apps on one database stand for two worker processes (each has its own engine and caches).
    other_worker = create_app(limited)
    with TestClient(other_worker):
        here, there = client_at(app, "203.0.113.60"), client_at(other_worker, "203.0.113.60")
        for i in range(CLIENT_LIMIT):
            assert token_login(here if i % 2 else there, f"guess{i}", "wrong-password")[0] == 401
        assert token_login(here, "staff", PASSWORD)[0] == 429
        assert token_login(there, "staff", PASSWORD)[0] == 429


def test_a_burst_of_parallel_guesses_cannot_slip_past_the_limit(app: FastAPI) -> None:
    # Each attempt is counted before its (slow) password check, in a transaction that serialises them.
    def guess(i: int) -> int:
        return token_login(client_at(app, "203.0.113.70"), f"burst{i}", "wrong-password")[0]

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(guess, range(CLIENT_LIMIT + 6)))
    assert sorted(statuses) == [401] * CLIENT_LIMIT + [429] * 6


def test_successes_do_not_count_and_a_lock_ends(app: FastAPI) -> None:
    client = client_at(app, "198.51.100.20")
    # Mistakes with successes in between never add up to an account lock (only the address's allowance of
    # CLIENT_LIMIT failures in its window counts them all).
    for _ in range(3):
        for _ in range(ACCOUNT_LIMIT - 1):
            assert token_login(client, "staff", "wrong-password")[0] == 401
        assert token_login(client, "staff", PASSWORD)[0] == 200
    client = client_at(app, "198.51.100.21")
    for _ in range(ACCOUNT_LIMIT):
        token_login(client, "staff", "wrong-password")
    assert token_login(client, "staff", PASSWORD)[0] == 429
    clock.freeze(clock.utcnow() + timedelta(seconds=121))
    assert token_login(client, "staff", PASSWORD)[0] == 200


def test_a_password_reset_unlocks_the_account(app: FastAPI, api: Api) -> None:
    client = client_at(app, "198.51.100.30")
    for _ in range(ACCOUNT_LIMIT + 1):
        token_login(client, "staff2", "wrong-password")
    assert token_login(client, "staff2", PASSWORD)[0] == 429
    r = api.client.patch(
        f"/api/v1/users/{api.data.users['staff2']}", json={"password": "a-new-password"}, headers=api.auth("admin")
    )
    assert r.status_code == 200
    assert token_login(client, "staff2", "a-new-password")[0] == 200


# -- sign-out and revocation ----------------------------------------------------------------------------------


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app: FastAPI) -> None:
    browser = web_login(client_at(app, "192.0.2.40"), "staff", PASSWORD)
    stolen = browser.cookies["wins_session"]
    assert browser.get("/staff", follow_redirects=False).status_code == 200
    page = browser.get("/logout")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    out = browser.post("/logout", data={"csrf_token": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"

    replay = client_at(app, "192.0.2.41")
    replay.cookies.set("wins_session", stolen)
    assert replay.get("/staff", follow_redirects=False).status_code in (302, 303, 401)
    assert replay.get("/api/v1/queue").status_code == 401
    assert replay.get("/staff/stream-ticket", follow_redirects=False).status_code != 200


def test_api_sign_out_ends_the_token_at_once(app: FastAPI) -> None:
    client = client_at(app, "192.0.2.50")
    status, token = token_login(client, "manager", PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/queue", headers=headers).status_code == 200  # now in the principal cache
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/queue", headers=headers).status_code == 401
    # Signing in again gives a working token.
    status, fresh = token_login(client, "manager", PASSWORD)
    assert client.get("/api/v1/queue", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_a_password_change_signs_out_everywhere(app: FastAPI, api: Api) -> None:
    browser = web_login(client_at(app, "192.0.2.60"), "staff2", PASSWORD)
    script = client_at(app, "192.0.2.61")
    _, token = token_login(script, "staff2", PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    assert script.get("/api/v1/queue", headers=headers).status_code == 200
    assert browser.get("/api/v1/queue").status_code == 200
    admin = client_at(app, "192.0.2.62")
    r = admin.patch(
        f"/api/v1/users/{api.data.users['staff2']}",
        json={"password": "changed-password"},
        headers={"Authorization": f"Bearer {api.data.tokens['admin']}"},
    )
    assert r.status_code == 200
    # No cache clearing here: the same process must stop serving the old token at once.
    assert script.get("/api/v1/queue", headers=headers).status_code == 401
    assert browser.get("/api/v1/queue").status_code == 401
    assert browser.get("/staff", follow_redirects=False).status_code != 200


def test_a_revoked_kiosk_token_stops_issuing_at_once(app: FastAPI, api: Api) -> None:
    kiosk = client_at(app, "10.1.1.1")
    headers = {"Authorization": f"Bearer {api.data.tokens['kiosk']}"}
    body = {"service_id": api.data.services["A"]}
    assert kiosk.post("/api/v1/tickets", json=body, headers=headers).status_code == 201  # cached from now on
    admin = {"Authorization": f"Bearer {api.data.tokens['admin']}"}
    devices = kiosk.get("/api/v1/devices", headers=admin).json()
    kiosk_id = next(d["id"] for d in devices if d["name"] == "kiosk")
    assert kiosk.post(f"/api/v1/devices/{kiosk_id}/revoke", headers=admin).status_code == 200
    # The express lane and the route both refuse it now, not a cache lifetime later.
    refused = kiosk.post("/api/v1/tickets", json=body, headers=headers)
    assert refused.status_code == 401
    assert kiosk.get("/api/v1/queue", headers=headers).status_code == 401
