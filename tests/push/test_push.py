"""Web Push for real, without the internet: the test plays the push service (a local HTTP server as the
subscription's endpoint), decrypts what it receives with the subscription's own keys (RFC 8291, aes128gcm) and
checks the VAPID signature (RFC 8292) against the key the tracking page hands out."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import Api
from tests.support.receiver import Received, Receiver
from tests.support.seed import Seeded
from wins.app import create_app
from wins.config import Settings
from wins.push.models import PushSubscription


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Phone:
    """A browser's push subscription: its own P-256 key pair and auth secret, as PushManager makes them."""

    def __init__(self, endpoint: str) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.endpoint = endpoint

    def subscription(self) -> dict[str, Any]:
        public = self.private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64(public), "auth": b64(self.auth)}}

    def read(self, got: Received) -> dict[str, Any]:
        assert got.headers["content-encoding"] == "aes128gcm"
        plain = http_ece.decrypt(got.body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm")
        message: dict[str, Any] = json.loads(plain)
        return message


def check_vapid(got: Received, public_key: str, audience: str, contact: str) -> None:
    """The push service's check: the JWT is signed (ES256) by the key in `k`, which is the server's."""
    scheme, _, params = got.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == public_key
    header, claims, signature = fields["t"].split(".")
    assert json.loads(unb64(header)) == {"typ": "JWT", "alg": "ES256"}
    body = json.loads(unb64(claims))
    assert body["aud"] == audience and body["sub"] == contact and body["exp"] > time.time()
    raw = unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(public_key))
    key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged


@pytest.fixture
def push_api(settings: Settings, seeded: Seeded) -> Iterator[Api]:
    fast = settings.model_copy(
        update={"push_service_hosts": "127.0.0.1", "push_poll_seconds": 0.05, "push_contact": "mailto:ops@example.org"}
    )
    with TestClient(create_app(fast)) as client:
        api = Api(client, seeded)
        r = client.patch("/api/v1/branch", json={"settings": {"push_available": True}}, headers=api.auth("manager"))
        assert r.status_code == 200, r.text
        yield api


def subscriptions(api: Api) -> int:
    db = api.client.app.state.db  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(PushSubscription)) or 0)


def test_a_phone_is_told_when_near_and_when_called(push_api: Api) -> None:
    api = push_api
    tickets = [api.issue("A") for _ in range(5)]
    mine = tickets[4]
    path = f"/api/v1/public/tickets/{mine['tracking_token']}/push"
    status = api.http.get(path).json()
    assert status["available"] and status["notify_ahead"] == 3 and status["subscribed"] == 0
    with Receiver(answer=lambda _r, _n: 201) as push_service:
        phone = Phone(push_service.url + "/wpush/v2/abc")
        r = api.http.post(path, json={**phone.subscription(), "language": "en", "expirationTime": None})
        assert r.status_code == 201, r.text and r.json()["subscribed"] == 1
        api.call_next("1")  # 4 ahead -> 3 ahead: "nearly your turn"
        got = push_service.wait_for(lambda rs: len(rs) >= 1)
        check_vapid(got[0], status["public_key"], push_service.url, "mailto:ops@example.org")
        assert got[0].path == "/wpush/v2/abc" and int(got[0].headers["ttl"]) > 0
        near = phone.read(got[0])
        assert near["title"] == f"{mine['number']}: nearly your turn" and near["body"] == "3 ahead of you"
        assert near["url"] == f"/t/{mine['tracking_token']}"
        for _ in range(3):
            api.call_next("2", who="staff2")  # a colleague at counter 2 (one person sits at one counter)
        api.call_next("1")  # A005 now, at counter 1
        got = push_service.wait_for(lambda rs: len(rs) >= 2)
        assert len(got) == 2  # "near" went once, not at every step
        called = phone.read(got[1])
        assert called["title"] == f"{mine['number']}: it is your turn" and called["body"] == "Please go to 1"
        check_vapid(got[1], status["public_key"], push_service.url, "mailto:ops@example.org")
        assert subscriptions(api) == 1
        api.post(f"/api/v1/tickets/{mine['id']}/complete", "staff")
        deadline = time.monotonic() + 10
        while subscriptions(api) and time.monotonic() < deadline:  # the notifier's thread deletes it
            time.sleep(0.02)
        assert subscriptions(api) == 0  # the ticket ended: the phone's subscription is gone


def test_no_internet_for_push_means_no_button_and_a_refusal(api: Api) -> None:
    ticket = api.issue("A")
    path = f"/api/v1/public/tickets/{ticket['tracking_token']}/push"
    status = api.http.get(path).json()
    assert status["available"] is False and "no internet" in status["reason"]
    phone = Phone("https://fcm.googleapis.com/fcm/send/x")
    assert api.http.post(path, json=phone.subscription()).status_code == 422


def test_only_known_push_services_are_sent_to(push_api: Api) -> None:
    ticket = push_api.issue("B")
    path = f"/api/v1/public/tickets/{ticket['tracking_token']}/push"
    r = push_api.http.post(path, json=Phone("https://intranet.example/admin").subscription())
    assert r.status_code == 422 and "WINS_PUSH_SERVICE_HOSTS" in r.json()["detail"]
    bad = {**Phone("http://127.0.0.1:9/x").subscription(), "keys": {"p256dh": "A" * 43, "auth": "B" * 22}}
    assert push_api.http.post(path, json=bad).status_code == 422
    assert push_api.http.get("/api/v1/public/tickets/not-a-token/push").status_code == 404
