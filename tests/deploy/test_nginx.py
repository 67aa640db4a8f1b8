"""deploy/nginx/wins.conf with Debian 12's nginx (1.22): it passes `nginx -t` as shipped and with its TLS
hint switched on, and a real nginx in front of a real WINS passes the API and a WebSocket upgrade, and logs
paths without their query strings."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.deploy.conftest import DEPLOY, free_port, stop, wait_for_health
from tests.support.hosts import nginx_main_config as main_config
from tests.support.requirements import require
from tests.support.seed import Seeded
from tests.support.server import LiveServer
from websockets.sync.client import connect

from wins.config import Settings

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
EXAMPLE = DEPLOY / "nginx" / "wins.conf"


@pytest.fixture(scope="module", autouse=True)
def _needs_nginx() -> None:
    require(Path(NGINX).exists(), "needs nginx (scripts/system-deps)")


def nginx_test(conf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)


def test_example_is_valid_for_nginx_1_22(tmp_path: Path) -> None:
    version = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr
    print(version.strip())
    result = nginx_test(main_config(tmp_path, EXAMPLE.read_text()))
    assert result.returncode == 0, result.stderr


def test_tls_hint_is_valid_for_nginx_1_22(tmp_path: Path) -> None:
    """Uncommenting the TLS lines as the comment says gives a working config (`http2 on;` would not)."""
    key, cert = tmp_path / "queue.key", tmp_path / "queue.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=queue.example.lan"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    site = EXAMPLE.read_text()
    hint = [line for line in site.splitlines() if re.match(r"\s*# (listen 443|ssl_certificate)", line)]
    assert len(hint) == 2, hint
    for line in hint:
        site = site.replace(line, line.replace("# ", "", 1))
    site = site.replace("/etc/ssl/certs/queue.pem", str(cert)).replace("/etc/ssl/private/queue.key", str(key))
    result = nginx_test(main_config(tmp_path, site))
    assert result.returncode == 0, result.stderr


@pytest.fixture
def behind_nginx(settings: Settings, seeded: Seeded, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    env = {
        "WINS_DATABASE_URL": settings.database_url,
        "WINS_SECRET_KEY": settings.secret_key,
        "WINS_DATA_DIR": str(settings.data_dir),
        "WINS_EVENT_POLL_SECONDS": "0.5",
    }
    with LiveServer(env, log_path=tmp_path / "server.log") as server:
        port = free_port()
        access_log = tmp_path / "wins.access.log"
        site = (
            EXAMPLE.read_text()
            .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{server.port};")
            .replace("listen 80;", f"listen 127.0.0.1:{port};")
            .replace("listen [::]:80;", "")
            .replace("/var/log/nginx/wins.access.log", str(access_log))
            .replace("root /opt/wins/public;", f"root {tmp_path}/public;")
        )
        conf = main_config(tmp_path, site)
        proc = subprocess.Popen(
            [NGINX, "-c", str(conf), "-g", "daemon off;"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_health(url, proc, timeout=30)
            yield url, access_log
        finally:
            stop(proc)


def test_api_and_websocket_through_nginx_and_no_query_in_the_log(
    behind_nginx: tuple[str, Path], seeded: Seeded
) -> None:
    url, access_log = behind_nginx
    staff = {"Authorization": f"Bearer {seeded.tokens['staff']}"}
    secret = "query-secret-4f9a"
    r = httpx.get(url + "/api/v1/events", params={"since": 0, "timeout": 0, "note": secret}, headers=staff)
    assert r.status_code == 200, r.text

    ws_url = url.replace("http://", "ws://") + "/api/v1/events/ws"
    with connect(ws_url, additional_headers=staff, open_timeout=10) as ws:  # the Upgrade passed nginx
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "hello"
        issued = httpx.post(
            url + "/api/v1/tickets",
            json={"service_id": seeded.services["A"]},
            headers={"Authorization": f"Bearer {seeded.tokens['kiosk']}"},
        )
        assert issued.status_code == 201, issued.text
        while True:
            event = json.loads(ws.recv(timeout=10))
            if event.get("type") == "ticket.issued":
                break
        assert event["data"]["number"] == issued.json()["number"]

    log = access_log.read_text()
    assert "GET /api/v1/events HTTP/1.1" in log and 'GET /api/v1/events/ws HTTP/1.1" 101' in log, log
    assert secret not in log and "since=" not in log and "?" not in log, log
