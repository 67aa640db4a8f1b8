"""Delivery to a real local receiver: signatures, order, retries with back-off, pausing, one deliverer per
endpoint across processes, and nothing lost when the server is killed mid-stream."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import Api
from tests.support.receiver import Received, Receiver
from tests.support.rest import Rest
from tests.support.seed import Seeded
from tests.support.server import LiveServer
from tests.webhooks.conftest import eventually, page, register, verified
from wins.config import Settings
from wins.db import Database
from wins.webhooks.deliverer import Policy, WebhookDeliverer


def _ids(got: list[Received], secret: str) -> list[int]:
    return [verified(r, secret)["id"] for r in got if r.status == 200]


def test_events_arrive_signed_and_in_order(hooks_api: Api) -> None:
    with Receiver() as receiver:
        hook = register(hooks_api, receiver.url + "/hook", ["ticket.*"])
        tickets = [hooks_api.issue(p) for p in "ABAB"]
        hooks_api.call_next("1")
        hooks_api.post("/api/v1/services", "manager", json={"name": "Extra", "prefix": "X"}, expect=201)
        got = receiver.wait_for(lambda rs: len(rs) >= 5)
        events = [verified(r, hook["secret"]) for r in got]
        assert [e["type"] for e in events] == ["ticket.issued"] * 4 + ["ticket.called"]
        assert [e["data"]["number"] for e in events[:4]] == [t["number"] for t in tickets]
        assert [e["id"] for e in events] == sorted(e["id"] for e in events)
        assert len({r.headers["x-wins-delivery"] for r in got}) == 5
        assert all("token" not in r.body.decode() for r in got)  # no tracking token ever leaves
        # a change after these still arrives, and service.created (not subscribed) never did
        hooks_api.issue("C")
        got = receiver.wait_for(lambda rs: len(rs) >= 6)
        assert verified(got[5], hook["secret"])["type"] == "ticket.issued"

        def logged() -> None:
            log = hooks_api.get(f"/api/v1/webhooks/{hook['id']}/deliveries")
            assert len(log) == 6 and all(d["ok"] and d["status_code"] == 200 for d in log)

        eventually(logged)


def test_a_failing_receiver_is_retried_with_back_off_then_gets_everything_in_order(hooks_api: Api) -> None:
    with Receiver(answer=lambda _r, n: 500 if n < 3 else 200) as receiver:
        hook = register(hooks_api, receiver.url, ["ticket.issued"])
        for p in "ABC":
            hooks_api.issue(p)
        got = receiver.wait_for(lambda rs: sum(r.status == 200 for r in rs) >= 3)
        first = got[0].headers["x-wins-delivery"]
        assert [r.headers["x-wins-delivery"] for r in got[:4]] == [first] * 4  # one event, retried, same id
        assert _ids(got, hook["secret"]) == sorted(_ids(got, hook["secret"]))

        def logged() -> None:
            log = hooks_api.get(f"/api/v1/webhooks/{hook['id']}/deliveries")[::-1]
            assert [(d["attempt"], d["ok"]) for d in log[:4]] == [(1, False), (2, False), (3, False), (4, True)]
            assert log[0]["error"] == "answered HTTP 500"

        eventually(logged)
        assert hooks_api.get(f"/api/v1/webhooks/{hook['id']}")["state"] == "active"


def test_an_endpoint_that_keeps_failing_is_paused_shown_and_resumed(hooks_api: Api) -> None:
    healthy = threading.Event()
    with Receiver(answer=lambda _r, _n: 200 if healthy.is_set() else 503) as receiver:
        hook = register(hooks_api, receiver.url, ["ticket.*"])
        hooks_api.issue("A")
        receiver.wait_for(lambda rs: len(rs) >= 4)  # fast_settings pause after 4
        path = f"/api/v1/webhooks/{hook['id']}"

        def paused() -> None:
            state = hooks_api.get(path)
            assert state["state"] == "paused" and state["paused_at"] and state["last_error"] == "answered HTTP 503"

        eventually(paused)
        dashboard = page(hooks_api, "manager", "/dashboard/live")
        assert "Webhook delivery is paused for " + receiver.url in dashboard
        admin = page(hooks_api, "admin", "/admin/webhooks")
        assert "paused</span>" in admin and "answered HTTP 503" in admin and "Resume" in admin
        hooks_api.issue("B")  # queued behind the paused endpoint's cursor, not lost
        healthy.set()
        assert len(receiver.snapshot()) == 4  # paused: nothing more was tried
        assert hooks_api.post(f"{path}/resume", "admin")["state"] == "active"
        got = receiver.wait_for(lambda rs: sum(r.status == 200 for r in rs) >= 2)
        assert [verified(r, hook["secret"])["data"]["number"] for r in got if r.status == 200] == ["A001", "B001"]


def test_two_deliverers_on_one_database_send_each_event_once(
    fast_settings: Settings, seeded: Seeded, hooks_api: Api
) -> None:
    """Two workers' deliverers (here: two in one process, each with its own claim) never both send an event."""
    app_db: Database = hooks_api.client.app.state.db  # type: ignore[attr-defined]
    policy = Policy(timeout=2, retry_base=0.05, retry_max=0.2, pause_after=4)
    others = [WebhookDeliverer(Database(fast_settings), policy, poll_seconds=0.02) for _ in range(2)]
    with Receiver() as receiver:
        hook = register(hooks_api, receiver.url, ["ticket.issued"])
        for d in others:
            d.start()
        try:
            for i in range(30):
                hooks_api.issue("ABC"[i % 3])
            got = receiver.wait_for(lambda rs: len(rs) >= 30)
        finally:
            for d in others:
                d.stop()
                d.db.dispose()
        ids = _ids(got, hook["secret"])
        assert ids == sorted(set(ids)) and len(ids) == 30  # no duplicate, no reordering
        assert len(receiver.snapshot()) == 30
    assert app_db is not None


@pytest.mark.slow  # tens of seconds: scheduled first (tests/conftest.py)
def test_a_server_killed_mid_stream_delivers_everything_after_restart(
    settings: Settings, seeded: Seeded, tmp_path: Path
) -> None:
    env = {
        "WINS_DATABASE_URL": settings.database_url,
        "WINS_SECRET_KEY": settings.secret_key,
        "WINS_DATA_DIR": str(settings.data_dir),
        "WINS_WEBHOOK_POLL_SECONDS": "0.05",
        "WINS_WEBHOOK_RETRY_BASE_SECONDS": "0.05",
    }
    slow = threading.Event()

    def answer(_r: Received, _n: int) -> int:
        slow.wait(0.02)  # a receiver that takes its time, so the kill lands mid-stream
        return 200

    total = 40
    with Receiver(answer=answer) as receiver:
        server = LiveServer(env, log_path=tmp_path / "server.log").start(timeout=90)
        try:
            with httpx.Client(base_url=server.url) as http:
                rest = Rest(http, seeded)
                hook = register(rest, receiver.url)  # type: ignore[arg-type]
                issued = [rest.issue("ABC"[i % 3])["number"] for i in range(total)]
            receiver.wait_for(lambda rs: len(rs) >= 10)
            server.stop(kill=True)  # SIGKILL: no shutdown, no goodbye
            before = len(receiver.snapshot())
            assert before < total, "the stream had finished before the kill; make the receiver slower"
            server.start(timeout=90)  # a loaded CI box can take its time to import
            got = receiver.wait_for(lambda rs: len({r.headers["x-wins-delivery"] for r in rs}) >= total, 60)
        finally:
            server.stop()
    events = [verified(r, hook["secret"]) for r in got]
    by_delivery: dict[str, int] = {}
    for r, e in zip(got, events, strict=True):
        assert by_delivery.setdefault(r.headers["x-wins-delivery"], e["id"]) == e["id"]  # same id, same event
    unique: list[int] = []
    for e in events:
        if e["id"] not in unique:
            unique.append(e["id"])
    assert unique == sorted(unique)  # in order, deduplicated by delivery id
    assert [e["data"]["number"] for e in {e["id"]: e for e in events}.values()] == issued  # nothing lost
