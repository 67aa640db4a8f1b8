"""The background followers of the event log (push notifier, SMS sender, webhook deliverer: wins.background)
cost nothing per event when they have nothing to do or another process holds their lease: counted as the SQL
statements their threads send to the real database (SQLite file and PostgreSQL), while tickets are issued."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.conftest import Api
from tests.push.test_push import Phone
from tests.support.receiver import Receiver
from tests.support.seed import Seeded
from tests.webhooks.conftest import register, verified
from wins.app import create_app
from wins.background import BackgroundWorker
from wins.config import Settings
from wins.db import Database
from wins.events.hub import EventHub

FOLLOWER_THREADS = ("wins-push", "wins-sms", "wins-webhooks")


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def followers(api: Api) -> list[BackgroundWorker]:
    found: list[BackgroundWorker] = api.client.app.state.followers  # type: ignore[attr-defined]
    assert {f.name for f in found} == set(FOLLOWER_THREADS)
    return found


def hub_of(api: Api) -> EventHub:
    hub: EventHub = api.client.app.state.hub  # type: ignore[attr-defined]
    return hub


@contextmanager
def follower_statements(db: Database) -> Iterator[Counter[str]]:
    """The statements the follower threads of this app send to its database while the block runs, by thread."""
    counted: Counter[str] = Counter()

    def count(*_: Any) -> None:
        name = threading.current_thread().name
        if name in FOLLOWER_THREADS:
            counted[name] += 1

    engines = {db.write_engine, db.read_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


def settle(api: Api) -> None:
    """Until the hub has read every event committed so far (and woken whichever follower wanted them), and a
    moment more for a woken follower to run."""
    last = api.get("/api/v1/events?timeout=0", "display")["last_id"]
    hub = hub_of(api)
    wait_until(lambda: hub.last_id >= last)
    time.sleep(0.3)


def slow_polls(settings: Settings) -> Settings:
    """Followers that look for work once a minute: anything they do in a test is done per event."""
    return settings.model_copy(
        update={"push_poll_seconds": 60.0, "sms_poll_seconds": 60.0, "webhook_poll_seconds": 60.0}
    )


def test_idle_features_run_no_statement_per_event(settings: Settings, seeded: Seeded) -> None:
    """No push subscription, no phone number (no gateway at all), no webhook endpoint: issuing and calling
    tickets makes the followers send nothing to the database."""
    with TestClient(create_app(slow_polls(settings))) as client:
        api = Api(client, seeded)
        jobs = followers(api)
        # Each has finished its first round (the poll, and the SMS sender's first sweep for numbers to forget).
        wait_until(lambda: all(job.rounds >= 1 for job in jobs))
        with follower_statements(api.client.app.state.db) as counted:  # type: ignore[attr-defined]
            for i in range(20):
                api.issue("AB"[i % 2])
            for _ in range(3):
                api.call_next("1")
            settle(api)
        assert counted == Counter()


def test_a_process_without_the_lease_does_nothing_per_event_and_each_message_goes_once(
    settings: Settings, seeded: Seeded
) -> None:
    """Two server processes on one database: the first holds the push and SMS leases and the webhook endpoint's
    claim; tickets issued and called through the second make its followers send nothing to the database, while
    the first delivers each push and each webhook once, in order (woken by its hub: NOTIFY on PostgreSQL, its
    poll of the log on SQLite)."""
    first = settings.model_copy(
        update={
            "push_service_hosts": "127.0.0.1",
            "push_poll_seconds": 0.05,
            "webhook_poll_seconds": 0.05,
            "push_contact": "mailto:ops@example.org",
        }
    )
    with Receiver(answer=lambda _r, _n: 201) as push_service, Receiver() as hooks:
        with TestClient(create_app(first)) as client_a:
            a = Api(client_a, seeded)
            r = client_a.patch("/api/v1/branch", json={"settings": {"push_available": True}}, headers=a.auth("manager"))
            assert r.status_code == 200, r.text
            hook = register(a, hooks.url, ["ticket.*"])
            mine = a.issue("A")
            phone = Phone(push_service.url + "/wpush/1")
            path = f"/api/v1/public/tickets/{mine['tracking_token']}/push"
            assert a.http.post(path, json={**phone.subscription(), "language": "en"}).status_code == 201
            push, sms, webhooks = (next(f for f in followers(a) if f.name == n) for n in FOLLOWER_THREADS)
            wait_until(lambda: push.active and push.lease.cursor is not None)  # type: ignore[attr-defined]
            wait_until(lambda: sms.lease.cursor is not None)  # type: ignore[attr-defined]
            hooks.wait_for(lambda rs: len(rs) >= 1)  # the first process claimed the endpoint and delivers
            with TestClient(create_app(slow_polls(settings))) as client_b:
                b = Api(client_b, seeded)
                jobs = followers(b)
                wait_until(lambda: all(job.rounds >= 1 for job in jobs))
                with follower_statements(client_b.app.state.db) as counted:  # type: ignore[attr-defined]
                    issued = [b.issue("AB"[i % 2])["number"] for i in range(12)]
                    push_service.wait_for(lambda rs: len(rs) >= 1)  # "nearly your turn": its queue moved
                    called = b.call_next("1")  # my ticket, the first in the queue
                    assert called["number"] == mine["number"]
                    got = hooks.wait_for(lambda rs: len(rs) >= 14)
                    pushed = push_service.wait_for(lambda rs: len(rs) >= 2)
                    settle(b)
                assert counted == Counter()  # not the holder: nothing per event
            events = [verified(g, hook["secret"]) for g in hooks.snapshot()]
            assert [e["id"] for e in events] == sorted({e["id"] for e in events})  # once each, in order
            assert [e["data"]["number"] for e in events if e["type"] == "ticket.issued"] == [
                mine["number"],
                *issued,
            ]
            assert len(got) == 14
            # "Nearly your turn" at the first event of its queue after it subscribed, then "your turn": once each.
            assert len(push_service.snapshot()) == len(pushed) == 2
            assert [phone.read(p)["title"] for p in pushed] == [
                f"{mine['number']}: nearly your turn",
                f"{mine['number']}: it is your turn",
            ]
            assert webhooks.wants_events()  # the holder of the endpoint's claim is woken per event
