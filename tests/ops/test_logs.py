"""The logs of a real `wins serve`: every line once, in the chosen format, with client, user and request id, and
no token, password or tracking token anywhere, after a full session."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.seed import PASSWORD, Seeded, seed
from tests.support.server import free_port
from wins.config import Settings

SECRET = "log-test-secret-" + "k" * 40
NEW_PASSWORD = "a-brand-new-Password-77"
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")


@dataclass
class Session:
    stdout: str
    stderr: str
    secrets: dict[str, str] = field(default_factory=dict)
    request_ids: list[str] = field(default_factory=list)

    @property
    def all(self) -> str:
        return self.stdout + self.stderr


def _start(tmp: Path, log_format: str) -> tuple[subprocess.Popen[bytes], str, Seeded, Path, Path]:
    db_url = f"sqlite:///{tmp / 'wins.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINS_")}
    env.update(
        {
            "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
            "WINS_DATABASE_URL": db_url,
            "WINS_DATA_DIR": str(tmp),
            "WINS_SECRET_KEY": SECRET,
            "WINS_LOG_FORMAT": log_format,
            "WINS_LOG_LEVEL": "INFO",
            "WINS_DEMO_ON_FIRST_START": "false",
        }
    )
    subprocess.run([sys.executable, "-m", "wins.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
    data = seed(Settings(database_url=db_url, data_dir=tmp, secret_key=SECRET))
    port = free_port()
    out, err = tmp / "stdout.log", tmp / "stderr.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "wins.cli", "serve", "--port", str(port), "--no-demo"],
        env=env,
        stdout=out.open("wb"),
        stderr=err.open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(err.read_text())
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        subprocess.run(["sleep", "0.1"], check=True)  # polling a starting process: nothing to await
    return proc, url, data, out, err


def _full_session(url: str, data: Seeded) -> tuple[dict[str, str], list[str]]:
    """Sign in, issue, call, display, track, WebSocket, failed sign-ins, password change. Returns every secret
    used and the request ids the server answered with."""
    secrets = {
        "password": PASSWORD,
        "new password": NEW_PASSWORD,
        "wrong password": "wrong-Password-9z",
        **{f"token of {name}": token for name, token in data.tokens.items()},
    }
    ids = []
    staff = {"Authorization": f"Bearer {data.tokens['staff']}"}
    admin = {"Authorization": f"Bearer {data.tokens['admin']}"}
    with httpx.Client(base_url=url, timeout=10) as web:
        page = web.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        secrets["login form csrf"] = csrf.group(1)
        r = web.post("/login", data={"username": "manager", "password": PASSWORD, "csrf_token": csrf.group(1)})
        assert r.status_code == 303, r.text
        secrets["session cookie"] = web.cookies["wins_session"]
        workspace = web.get("/staff")
        assert workspace.status_code == 200
        page_csrf = re.search(r'name="csrf-token" content="([^"]+)"', workspace.text)
        assert page_csrf
        secrets["page csrf"] = page_csrf.group(1)
        r = web.post("/api/v1/events/tickets", headers={"X-CSRF-Token": page_csrf.group(1)})
        assert r.status_code == 201, r.text
        stream = r.json()["ticket"]
        secrets["stream ticket"] = stream
        with connect(f"{url.replace('http', 'ws')}/api/v1/events/ws?ticket={stream}") as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"

        r = httpx.post(url + "/api/v1/auth/token", data={"username": "staff", "password": PASSWORD})
        assert r.status_code == 200
        secrets["API token"] = r.json()["access_token"]
        r = httpx.post(
            url + "/api/v1/tickets",
            json={"service_id": data.services["A"]},
            headers={"Authorization": f"Bearer {data.tokens['kiosk']}"},
        )
        assert r.status_code == 201, r.text
        ids.append(r.headers["x-request-id"])
        tracking = r.json()["tracking_token"]
        secrets["tracking token"] = tracking
        counter = data.counters["1"]
        assert httpx.post(f"{url}/api/v1/counters/{counter}/open", headers=staff).status_code == 200
        r = httpx.post(f"{url}/api/v1/counters/{counter}/call-next", headers=staff)
        assert r.status_code == 200, r.text
        ids.append(r.headers["x-request-id"])

        devices = httpx.get(f"{url}/api/v1/devices", headers=admin).json()
        display = next(d["id"] for d in devices if d["name"] == "display")
        r = httpx.post(f"{url}/api/v1/devices/{display}/pairing-code", headers=admin)
        assert r.status_code == 201, r.text
        secrets["pairing code"] = r.json()["code"]
        with httpx.Client(base_url=url, timeout=10) as screen:
            assert screen.get(f"/display?pair={r.json()['code']}").status_code == 303
            assert screen.get("/display").status_code == 200
        # A token in the socket's URL is refused, and must not reach the log either.
        with connect(f"{url.replace('http', 'ws')}/api/v1/events/ws?since=0&token={data.tokens['display']}") as ws:
            with pytest.raises(ConnectionClosed):  # refused (tests/security/test_streams.py checks the code)
                ws.recv(timeout=5)
        display_auth = {"Authorization": f"Bearer {data.tokens['display']}"}
        with connect(f"{url.replace('http', 'ws')}/api/v1/events/ws?since=0", additional_headers=display_auth) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"

        assert httpx.get(f"{url}/t/{tracking}").status_code == 200
        assert httpx.get(f"{url}/api/v1/public/tickets/{tracking}").status_code == 200
        assert httpx.get(f"{url}/api/v1/public/tickets/{tracking}/updates?timeout=0&since=0").status_code == 200

        # A secret in a query string, where it does not belong, is still kept out of the log.
        httpx.get(f"{url}/api/v1/auth/me?token={data.tokens['staff2']}&password={PASSWORD}", headers=staff)
        # Failed sign-ins (API and web page), one of them through the trusted local proxy.
        r = httpx.post(url + "/api/v1/auth/token", data={"username": "staff2", "password": secrets["wrong password"]})
        assert r.status_code == 401
        r = httpx.post(
            url + "/api/v1/auth/token",
            data={"username": "staff2", "password": secrets["wrong password"]},
            headers={"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "proxy-given-id-42"},
        )
        assert r.status_code == 401
        assert r.headers["x-request-id"] == "proxy-given-id-42"
        page = web.get("/logout")
        csrf_out = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf_out
        web.post("/logout", data={"csrf_token": csrf_out.group(1)})
        page = web.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        r = web.post(
            "/login", data={"username": "manager", "password": secrets["wrong password"], "csrf_token": csrf.group(1)}
        )
        assert r.status_code == 401

        r = httpx.patch(f"{url}/api/v1/users/{data.users['staff2']}", json={"password": NEW_PASSWORD}, headers=admin)
        assert r.status_code == 200, r.text
    return secrets, ids


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module", params=["text", "json"])
def session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Session]:
    """One server per format, one full session; the tests below read its logs."""
    proc, url, data, out, err = _start(tmp_path_factory.mktemp(f"logs-{request.param}"), request.param)
    try:
        secrets, ids = _full_session(url, data)
    finally:
        _stop(proc)
    return request.param, Session(out.read_text(), err.read_text(), secrets, ids)


@pytest.mark.slow
def test_no_secret_in_any_line(session: tuple[str, Session]) -> None:
    _, logs = session
    assert "wins.access" in logs.all  # the session was logged at all
    leaked = {name: value for name, value in logs.secrets.items() if value in logs.all}
    assert leaked == {}, f"secrets in the log: {sorted(leaked)}"
    # The parts that were masked are still recognisable for what they are.
    assert "/t/***" in logs.all


@pytest.mark.slow
def test_every_line_once_in_the_chosen_format(session: tuple[str, Session]) -> None:
    log_format, logs = session
    lines = [line for line in logs.stderr.splitlines() if line.strip()]
    assert len(lines) > 10
    if log_format == "json":
        records = [json.loads(line) for line in [*lines, *logs.stdout.splitlines()] if line.strip()]
        loggers = {r["logger"] for r in records}
        assert {"wins.access", "wins.app", "uvicorn.error", "wins.security"} <= loggers
    else:
        strays = [line for line in lines if not TEXT_LINE.match(line)]
        assert strays == []
    # python-escpos' logging.basicConfig() printed each line a second time as "LEVEL:logger:message".
    assert not [line for line in lines if re.match(r"^(INFO|WARNING|ERROR):[\w.]+:", line)]
    ready = [line for line in lines if "ready on" in line]
    assert len(ready) == 1


def _access_lines(log_format: str, logs: Session) -> list[dict[str, str]]:
    found = []
    for line in logs.stderr.splitlines():
        if log_format == "json":
            record = json.loads(line)
            if record["logger"] == "wins.access":
                found.append({k: str(v) for k, v in record.items()})
        elif " wins.access: " in line:
            message = line.split(" wins.access: ", 1)[1]
            method, path, status, ms, *rest = message.split(" ")
            fields = dict(part.split("=", 1) for part in rest)
            found.append({"method": method, "path": path, "status": status, "ms": ms, **fields})
    return found


@pytest.mark.slow
def test_request_lines_carry_client_user_and_request_id(session: tuple[str, Session]) -> None:
    log_format, logs = session
    lines = _access_lines(log_format, logs)
    key = "request_id" if log_format == "json" else "id"
    by_id = {line[key]: line for line in lines}
    issue, call = (by_id[request_id] for request_id in logs.request_ids)
    assert (issue["method"], issue["path"], issue["status"]) == ("POST", "/api/v1/tickets", "201")
    assert issue["user"] == "device:kiosk"
    assert issue["client"] == "127.0.0.1"
    assert call["user"] == "staff:staff"
    assert call["path"].endswith("/call-next")
    pages = [line for line in lines if line["path"] == "/staff"]
    assert pages and pages[0]["user"] == "staff:manager"
    boards = [line for line in lines if line["path"] == "/display" and line["status"] == "200"]
    assert boards and boards[0]["user"] == "device:display"
    sockets = [line for line in lines if line["method"] == "WS"]
    # (the socket refused for its ?token= has no user: "-")
    assert {line["user"] for line in sockets} == {"staff:manager", "device:display", "-"}
    assert {line["status"] for line in sockets} == {"101"}
    proxied = by_id["proxy-given-id-42"]
    assert proxied["client"] == "203.0.113.9"
    assert all("?" not in line["path"] for line in lines)


@pytest.mark.slow
def test_failed_sign_ins_carry_the_client_address(session: tuple[str, Session]) -> None:
    _, logs = session
    assert (
        logs.stderr.count('sign-in failed from 127.0.0.1 for user \\"staff2\\"')
        + logs.stderr.count('sign-in failed from 127.0.0.1 for user "staff2"')
        == 1
    )
    assert "sign-in failed from 203.0.113.9 for user" in logs.stderr
    assert "sign-in failed from 127.0.0.1 for user" in logs.stderr and "manager" in logs.stderr
