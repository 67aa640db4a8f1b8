"""Text messages through an HTTP gateway, for real: the test plays the provider (a local HTTP server on a real
socket) and checks the exact requests WINS makes; the number is read back from the database file as raw bytes."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from alembic import command
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import create_engine, func, inspect, select, text, update
from sqlalchemy.pool import NullPool

from tests.conftest import Api
from tests.support.receiver import Received, Receiver
from tests.support.seed import Seeded, seed
from wins import migrate
from wins.app import create_app
from wins.config import Settings, check_sms_gateway
from wins.sms import gateway
from wins.sms.models import SmsOutbox, SmsRequest, SmsState
from wins.sms.sender import SmsSender
from wins.tickets.models import Ticket, TicketStatus

PHONE = "+44 7700 900123"
E164 = "+447700900123"
DIGITS = "7700900123"  # what must never be found in the database file or a log line


def gateway_settings(settings: Settings, url: str, **extra: Any) -> Settings:
    fast = settings.model_copy(
        update={
            "sms_gateway_url": url + "/send?to={phone}&key={token}",
            "sms_gateway_method": "POST",
            "sms_gateway_body": '{"to": "{phone_digits}", "text": "{text}"}',
            "sms_gateway_body_format": "json",
            "sms_gateway_headers": '{"Authorization": "Bearer {token}", "X-Sender": "WINS"}',
            "sms_gateway_token": "s3cret/tok&en",
            "sms_poll_seconds": 0.05,
            "sms_retry_base_seconds": 0.05,
            "sms_retry_max_seconds": 0.2,
            "log_level": "INFO",
            **extra,
        }
    )
    check_sms_gateway(fast)  # what start-up checks (model_copy skips the validators)
    return fast


@pytest.fixture
def provider() -> Iterator[Receiver]:
    with Receiver(answer=lambda _r, _n: 200) as receiver:
        yield receiver


@contextmanager
def sms_app(settings: Settings, seeded: Seeded) -> Iterator[Api]:
    """The app with this gateway set-up, the branch's `sms_available` on."""
    try:
        with TestClient(create_app(settings)) as client:
            api = Api(client, seeded)
            r = client.patch("/api/v1/branch", json={"settings": {"sms_available": True}}, headers=api.auth("manager"))
            assert r.status_code == 200, r.text
            yield api
    finally:
        logging.getLogger().setLevel(logging.WARNING)  # create_app set the root logger to the settings' level


@pytest.fixture
def sms_api(settings: Settings, seeded: Seeded, provider: Receiver) -> Iterator[Api]:
    with sms_app(gateway_settings(settings, provider.url), seeded) as api:
        yield api


def db_of(api: Api) -> Any:
    return api.client.app.state.db  # type: ignore[attr-defined]


def count(api: Api, model: Any) -> int:
    with db_of(api).session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def subscribe(api: Api, token: str, phone: str = PHONE, expect: int = 201) -> dict[str, Any]:
    r = api.http.post(f"/api/v1/public/tickets/{token}/sms", json={"phone": phone, "language": "en"})
    assert r.status_code == expect, r.text
    result: dict[str, Any] = r.json()
    return result


def test_near_and_called_texts_go_out_as_the_exact_gateway_request(sms_api: Api, provider: Receiver) -> None:
    api = sms_api
    tickets = [api.issue("A") for _ in range(5)]
    mine = tickets[4]
    status = subscribe(api, mine["tracking_token"])
    assert status == {"available": True, "reason": "", "subscribed": True, "last_digits": "23", "notify_ahead": 3}
    assert DIGITS not in json.dumps(api.http.get(f"/api/v1/public/tickets/{mine['tracking_token']}/sms").json())
    api.call_next("1")  # 4 ahead -> 3 ahead: "nearly your turn"
    got = provider.wait_for(lambda rs: len(rs) >= 1)
    near = got[0]
    assert near.method == "POST"
    url = urlsplit(near.path)
    assert url.path == "/send"
    assert url.query == "to=%2B447700900123&key=s3cret%2Ftok%26en"  # each value URL-encoded in the address
    assert parse_qs(url.query) == {"to": [E164], "key": ["s3cret/tok&en"]}
    assert near.headers["authorization"] == "Bearer s3cret/tok&en" and near.headers["x-sender"] == "WINS"
    assert near.headers["content-type"] == "application/json"
    assert json.loads(near.body) == {
        "to": "447700900123",
        "text": f"{mine['number']}: nearly your turn, 3 ahead of you.",
    }
    for _ in range(3):
        api.call_next("2", who="staff2")
    api.call_next("1")  # mine now, at counter 1
    got = provider.wait_for(lambda rs: len(rs) >= 2)
    assert json.loads(got[1].body)["text"] == f"{mine['number']}: it is your turn. Please go to 1."
    api.post(f"/api/v1/tickets/{mine['id']}/recall", "staff")
    got = provider.wait_for(lambda rs: len(rs) >= 3)
    assert json.loads(got[2].body)["text"] == json.loads(got[1].body)["text"]  # a recall texts again
    time.sleep(0.3)
    assert len(provider.snapshot()) == 3  # "near" went once, each call once
    assert count(api, SmsRequest) == 1
    api.post(f"/api/v1/tickets/{mine['id']}/complete", "staff")
    wait_until(lambda: count(api, SmsRequest) == 0)  # the number is erased when the ticket ends


def test_each_placeholder_is_escaped_for_its_place(settings: Settings) -> None:
    text = 'A005: "go" to 3 & 4 — 50% / é\n<b>?'
    as_json = gateway_settings(settings, "https://sms.example.com")
    request = gateway.build_request(as_json, phone=E164, text=text)
    assert json.loads(request.body or b"") == {"to": "447700900123", "text": text}
    assert parse_qs(urlsplit(request.url).query) == {"to": [E164], "key": ["s3cret/tok&en"]}
    assert DIGITS not in repr(request)  # a stray log of the request object says nothing
    as_form = gateway_settings(
        settings, "https://sms.example.com", sms_gateway_body="To={phone}&Body={text}", sms_gateway_body_format="form"
    )
    request = gateway.build_request(as_form, phone=E164, text=text)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs((request.body or b"").decode(), strict_parsing=True) == {"To": [E164], "Body": [text]}
    as_get = gateway_settings(
        settings,
        "http://gw.lan:8080",
        sms_gateway_url="http://gw.lan:8080/cgi/send?n={phone_digits}&m={text}",
        sms_gateway_method="GET",
        sms_gateway_body="",
        sms_gateway_headers="",
    )
    request = gateway.build_request(as_get, phone=E164, text=text)
    assert request.method == "GET" and request.body is None
    assert parse_qs(urlsplit(request.url).query) == {"n": ["447700900123"], "m": [text]}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sms_gateway_url": "ftp://sms.example.com/{phone}/{text}"}, "http:// or https://"),
        ({"sms_gateway_url": "https:///send?to={phone}&t={text}"}, "host name"),
        ({"sms_gateway_url": "https://x.example/s?to={number}&t={text}"}, "unknown placeholder(s) {number}"),
        ({"sms_gateway_url": "https://x.example/s", "sms_gateway_body": "to={phone}"}, "must contain {phone}"),
        ({"sms_gateway_url": "https://x.example/s", "sms_gateway_body": '{"to": {phone}, "t": "{text}"}',
          "sms_gateway_body_format": "json"}, "not valid JSON"),
        ({"sms_gateway_url": "https://x.example/s?to={phone}&t={text}", "sms_gateway_method": "GET",
          "sms_gateway_body": "a={text}"}, "METHOD is GET"),
        ({"sms_gateway_url": "https://x.example/s?to={phone}&t={text}&k={token}"}, "WINS_SMS_GATEWAY_TOKEN_FILE"),
        ({"sms_gateway_url": "https://x.example/s?to={phone}&t={text}", "sms_gateway_headers": '{"A": "{text}"}'},
         "unknown placeholder(s) {text}"),
        ({"sms_gateway_url": "https://x.example/s?to={phone}&t={text}", "sms_gateway_headers": "[1]"},
         "JSON object of strings"),
    ],
)  # fmt: skip
def test_a_gateway_set_up_that_cannot_work_stops_the_start_with_what_to_fix(
    tmp_path: Path, changes: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)").replace("{", r"\{")):
        Settings(data_dir=tmp_path, **changes)  # type: ignore[arg-type]


def test_the_token_comes_from_a_file_and_never_shows_in_the_settings(tmp_path: Path) -> None:
    token_file = tmp_path / "sms-token"
    token_file.write_text("  from-file-tok \n")
    s = Settings(
        data_dir=tmp_path,
        sms_gateway_url="https://x.example/s?to={phone}&t={text}&k={token}",
        sms_gateway_token_file=token_file,
    )
    assert s.sms_token == "from-file-tok"
    s = Settings(data_dir=tmp_path, sms_gateway_url="https://x.example/s?to={phone}&t={text}&k={token}",
                 sms_gateway_token="env-tok")  # fmt: skip
    assert "env-tok" not in repr(s)


def test_a_bad_number_gets_a_clear_refusal_and_nothing_is_kept(sms_api: Api) -> None:
    ticket = sms_api.issue("A")
    path = f"/api/v1/public/tickets/{ticket['tracking_token']}/sms"
    for bad, says in (("07700 900123", "country code"), ("+44 77x0", "not a mobile number"), ("+0123456789", "not")):
        r = sms_api.http.post(path, json={"phone": bad})
        assert r.status_code == 422 and says in r.json()["detail"], r.text
    assert count(sms_api, SmsRequest) == 0
    assert subscribe(sms_api, ticket["tracking_token"], "0044 (7700) 900-123")["last_digits"] == "23"
    assert sms_api.http.get("/api/v1/public/tickets/nope/sms").status_code == 404
    assert sms_api.http.post(f"{path}/stop").status_code == 204
    assert count(sms_api, SmsRequest) == 0


def test_a_local_number_takes_the_sites_country_code(settings: Settings, seeded: Seeded, provider: Receiver) -> None:
    with sms_app(gateway_settings(settings, provider.url, sms_default_country_code="+44"), seeded) as api:
        ticket = api.issue("A")
        assert subscribe(api, ticket["tracking_token"], "07700 900123")["last_digits"] == "23"


def test_off_unless_the_branch_switches_it_on_and_a_gateway_is_set(api: Api) -> None:
    ticket = api.issue("A")
    path = f"/api/v1/public/tickets/{ticket['tracking_token']}/sms"
    status = api.http.get(path).json()
    assert status["available"] is False and "not available" in status["reason"]
    r = api.http.patch("/api/v1/branch", json={"settings": {"sms_available": True}}, headers=api.auth("manager"))
    assert r.status_code == 200
    assert api.http.get(path).json()["available"] is False  # no gateway in the settings
    assert api.http.post(path, json={"phone": PHONE}).status_code == 422


def test_gateway_failures_are_retried_with_back_off(settings: Settings, seeded: Seeded) -> None:
    def flaky(_r: Received, n: int) -> int:
        return 500 if n < 2 else 200

    with Receiver(answer=flaky) as provider:
        with sms_app(gateway_settings(settings, provider.url), seeded) as api:
            ticket = api.issue("A")
            subscribe(api, ticket["tracking_token"])
            api.call_next("1")
            got = provider.wait_for(lambda rs: len(rs) >= 3)
            assert [r.status for r in got] == [500, 500, 200]
            assert len({r.body for r in got}) == 1  # the same text each time
            assert json.loads(got[0].body)["text"].endswith("it is your turn. Please go to 1.")
            wait_until(lambda: count(api, SmsOutbox) == 0)
            time.sleep(0.3)
            assert len(provider.snapshot()) == 3  # delivered once, then no more


def test_several_workers_never_send_a_text_twice(settings: Settings, seeded: Seeded, provider: Receiver) -> None:
    fast = gateway_settings(settings, provider.url, sms_retry_base_seconds=30.0)
    with sms_app(fast, seeded) as api:
        db = db_of(api)
        tickets = [api.issue("A") for _ in range(40)]
        for ticket in tickets:
            subscribe(api, ticket["tracking_token"])
        others = [SmsSender(db, fast) for _ in range(2)]  # two more processes' senders beside the app's own
        for sender in others:
            sender.start()
        try:
            with db.session() as session:  # 40 texts due at once, for three workers racing for them
                for request in session.scalars(select(SmsRequest)):
                    session.add(SmsOutbox(request_id=request.id, kind="called-9", text=f"text {request.id}"))
            go = threading.Barrier(2)

            def drain(sender: SmsSender) -> None:
                go.wait()
                while count(api, SmsOutbox):
                    sender.send_due()

            threads = [threading.Thread(target=drain, args=(s,)) for s in others]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            wait_until(lambda: count(api, SmsOutbox) == 0)
        finally:
            for sender in others:
                sender.stop()
        texts = [json.loads(r.body)["text"] for r in provider.snapshot()]
        # Only the 40 texts put in the outbox here: the app's own sender may also queue "nearly your turn" texts
        # for the first tickets (their subscriptions came after the events it reads), each sent once too.
        ours = [t for t in texts if t.startswith("text ")]
        assert len(ours) == 40 and len(set(ours)) == 40
        assert len(set(texts)) == len(texts)  # no text went twice


def test_the_number_is_unreadable_in_the_database_file_and_never_logged(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # SQLite's file (and its WAL) read as bytes; PostgreSQL stores the same encrypted text.
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path / "data", secret_key="f" * 40)
    seeded = seed(settings)

    def flaky(_r: Received, n: int) -> int:
        return 500 if n == 0 else 200

    with Receiver(answer=flaky) as provider:
        fast = gateway_settings(settings, provider.url, log_level="DEBUG")
        with sms_app(fast, seeded) as api:
            ticket = api.issue("A")
            bad = api.http.post(f"/api/v1/public/tickets/{ticket['tracking_token']}/sms", json={"phone": "7700900123"})
            assert bad.status_code == 422 and DIGITS not in bad.text  # the refusal does not echo it
            subscribe(api, ticket["tracking_token"])
            db_file = Path(fast.sqlalchemy_url.removeprefix("sqlite:///"))
            raw = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
            assert count(api, SmsRequest) == 1 and raw  # the row is there, in the file or its WAL ...
            for form in (DIGITS, "447700900123", "900123"):
                assert form.encode() not in raw  # ... but the number is not readable in it
            api.call_next("1")
            provider.wait_for(lambda rs: len(rs) >= 2)  # a failure, then the text
            api.post(f"/api/v1/tickets/{ticket['id']}/complete", "staff")
            wait_until(lambda: count(api, SmsRequest) == 0)
    logs = capsys.readouterr()
    assert "a text failed (the gateway answered HTTP 500)" in logs.err  # the failure is logged ...
    assert DIGITS not in logs.err + logs.out and "s3cret" not in logs.err  # ... without number or token


def test_a_number_whose_ticket_ended_while_no_sender_ran_is_erased_at_start(
    settings: Settings, seeded: Seeded, provider: Receiver
) -> None:
    fast = gateway_settings(settings, provider.url)
    with sms_app(fast, seeded) as api:
        ticket = api.issue("A")
        subscribe(api, ticket["tracking_token"])
        db = db_of(api)
    with db.session() as session:  # ended behind the server's back (e.g. a restore, a manual fix)
        session.execute(update(Ticket).where(Ticket.id == ticket["id"]).values(status=TicketStatus.cancelled))
        session.execute(update(SmsState).values(cursor=1_000_000_000))  # and no event the sender will see
    with sms_app(fast, seeded) as api:
        wait_until(lambda: count(api, SmsRequest) == 0)


def test_0015_upgrades_a_populated_0013_database(database_url: str, settings: Settings, seeded: Seeded) -> None:
    with TestClient(create_app(settings)) as client:
        Api(client, seeded).issue("A")
    command.downgrade(migrate.alembic_config(database_url), "0013")
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        assert "sms_requests" not in inspect(engine).get_table_names()
        migrate.upgrade(database_url, "head")
        assert {"sms_state", "sms_requests", "sms_outbox"} <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM tickets")).scalar() == 1
    finally:
        engine.dispose()


def test_an_unreachable_gateway_is_reported_without_the_address(settings: Settings) -> None:
    with Receiver() as closed:
        url = closed.url  # a port nobody listens on once the receiver is gone
    request = gateway.build_request(gateway_settings(settings, url), phone=E164, text="A001: hello")
    with httpx.Client(timeout=2, trust_env=False) as client:
        error = gateway.send(client, request)
    assert error == "could not reach the gateway (ConnectError)"
