"""Several WINS hosts on one machine: each a network namespace with its own address (a veth pair to the root
namespace), running gunicorn with the shipped config; nginx in the root namespace renders the shipped example
with every host as an upstream. Used by tests/test_two_hosts.py and bench/two_hosts.py (needs root and `ip`).

The hosts reach PostgreSQL through its Unix socket: a socket file is shared by every network namespace, while
127.0.0.1 inside a namespace is that namespace's own loopback (and PostgreSQL often listens on nothing else).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
NGINX_EXAMPLE = DEPLOY / "nginx" / "wins.conf"
IP = shutil.which("ip") or "/usr/sbin/ip"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TC = shutil.which("tc") or "/usr/sbin/tc"
PORT = 8000  # every host listens on its own address, so all can use the usual port


def can_make_namespaces() -> bool:
    """Root, `ip` and nginx present, and the kernel lets us add a namespace (not in every container)."""
    if os.geteuid() != 0 or not Path(IP).exists() or not Path(NGINX).exists():
        return False
    probe = f"wins-probe-{uuid.uuid4().hex[:6]}"
    made = subprocess.run([IP, "netns", "add", probe], capture_output=True).returncode == 0
    if made:
        subprocess.run([IP, "netns", "del", probe], capture_output=True)
    return made


def _ip(*args: str, netns: str | None = None) -> None:
    cmd = [IP, "netns", "exec", netns, IP, *args] if netns else [IP, *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {result.stderr.strip()}")


def can_go_dark() -> bool:
    """`tc` present (the kernel's blackhole queue is always built in with traffic control)."""
    return Path(TC).exists()


def _tc(*args: str, netns: str | None = None) -> None:
    cmd = [IP, "netns", "exec", netns, TC, *args] if netns else [TC, *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {result.stderr.strip()}")


@dataclass(frozen=True)
class Namespace:
    name: str
    address: str  # the host's own address, inside the namespace
    gateway: str  # the root namespace's end of the veth pair
    outside: str  # the veth pair's ends: in the root namespace
    inside: str  # and in this one

    def go_dark(self) -> None:
        """Pull the cable: from now on every packet either way vanishes (a `blackhole` queue on both ends of the
        veth pair). No RST, no FIN, no ICMP: open connections hang and new ones time out, as with a host that
        lost its power or its link, unlike a killed process whose kernel still answers."""
        _tc("qdisc", "replace", "dev", self.outside, "root", "blackhole")
        _tc("qdisc", "replace", "dev", self.inside, "root", "blackhole", netns=self.name)

    def come_back(self) -> None:
        """Plug the cable back in (the veth's default queues again)."""
        _tc("qdisc", "del", "dev", self.outside, "root")
        _tc("qdisc", "del", "dev", self.inside, "root", netns=self.name)


@contextmanager
def namespace(index: int) -> Iterator[Namespace]:
    """A network namespace with a unique name and a /30 of 10.x.y.z of its own, linked to the root namespace by
    a veth pair. Torn down (with anything still running in it) even when the caller fails."""
    tag = uuid.uuid4().hex[:6]
    name, outside, inside = f"wins-{tag}-{index}", f"wv{tag}{index}o", f"wv{tag}{index}i"
    # A random /30 so parallel runs do not collide: 10.<200..249>.<0..255>.<4k>.
    r = uuid.uuid4().int
    base = f"10.{200 + r % 50}.{(r >> 8) % 256}.{((r >> 16) % 64) * 4}"
    prefix = base.rsplit(".", 1)[0] + "."
    last = int(base.rsplit(".", 1)[1])
    gateway, address = f"{prefix}{last + 1}", f"{prefix}{last + 2}"
    try:
        _ip("netns", "add", name)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", name)
        _ip("addr", "add", f"{gateway}/30", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("addr", "add", f"{address}/30", "dev", inside, netns=name)
        _ip("link", "set", inside, "up", netns=name)
        _ip("link", "set", "lo", "up", netns=name)
        yield Namespace(name, address, gateway, outside, inside)
    finally:
        pids = subprocess.run([IP, "netns", "pids", name], capture_output=True, text=True).stdout.split()
        for pid in pids:
            with suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run([IP, "netns", "del", name], capture_output=True)
        subprocess.run([IP, "link", "del", outside], capture_output=True)  # gone with the namespace, normally


def unix_socket_url(database_url: str) -> str:
    """The same PostgreSQL database, reached through the server's Unix socket (asked from the server itself)."""
    parts = urlsplit(database_url)
    libpq = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq, autocommit=True) as conn:
        row = conn.execute("SHOW unix_socket_directories").fetchone()
    folders = [f.strip() for f in str(row[0] if row else "").split(",") if f.strip().startswith("/")]
    if not folders:
        raise RuntimeError("PostgreSQL has no Unix socket: the hosts in their namespaces could not reach it")
    user = f"{parts.username}@" if parts.username else ""
    port = f"&port={parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{parts.path}?host={folders[0]}{port}"


@dataclass
class Host:
    """gunicorn (deploy/gunicorn.conf.py) in a namespace; its own process group, so it can die as a whole."""

    netns: Namespace
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.netns.address}:{PORT}"

    def kill(self) -> None:
        """SIGKILL to every process of the host at once: the master and its workers die with no goodbye."""
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def start_host(netns: Namespace, env: dict[str, str], *, workers: int, log: Path) -> Host:
    gunicorn = Path(sys.executable).parent / "gunicorn"  # the one beside this Python, as in tests/deploy
    env = {**env}
    env.update({"WINS_HOST": netns.address, "WINS_PORT": str(PORT), "WINS_WORKERS": str(workers)})
    proc = subprocess.Popen(
        [IP, "netns", "exec", netns.name, str(gunicorn), "--config", str(DEPLOY / "gunicorn.conf.py")]
        + ["wins.asgi:app"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=log.parent,
        start_new_session=True,  # its own process group: `kill` takes the master and every worker
    )
    return Host(netns, proc, log)


def wait_until_serving(url: str, *, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log else ""
    raise RuntimeError(f"{url} did not answer /health within {timeout:.0f}s\n{tail}")


def nginx_site(upstreams: list[str], *, port: int, folder: Path) -> str:
    """The shipped example with these upstream servers, listening on 127.0.0.1:`port`, logging into `folder`."""
    servers = "".join(f"    server {u};\n" for u in upstreams)
    site = NGINX_EXAMPLE.read_text()
    assert "    server 127.0.0.1:8000;\n" in site, "the example's upstream block changed: update this renderer"
    return (
        site.replace("    server 127.0.0.1:8000;\n", servers)
        .replace("listen 80;", f"listen 127.0.0.1:{port};")
        .replace("listen [::]:80;", "")
        .replace("/var/log/nginx/wins.access.log", str(folder / "wins.access.log"))
        .replace("root /opt/wins/public;", f"root {folder}/public;")
    )


def nginx_main_config(folder: Path, site: str, *, connections: int = 1024) -> Path:
    """nginx.conf as Debian's, reduced: the site file is included in the http block like sites-enabled/."""
    (folder / "site.conf").write_text(site)
    conf = folder / "nginx.conf"
    conf.write_text(
        f"error_log {folder}/error.log;\npid {folder}/nginx.pid;\nworker_rlimit_nofile {connections * 2 + 64};\n"
        f"events {{ worker_connections {connections}; }}\n"
        f"http {{\n  access_log {folder}/default-access.log;\n  client_body_temp_path {folder};\n"
        f"  proxy_temp_path {folder};\n  include {folder}/site.conf;\n}}\n"
    )
    return conf


@contextmanager
def nginx(upstreams: list[str], *, port: int, folder: Path, connections: int = 1024) -> Iterator[str]:
    """nginx in front of `upstreams`; yields its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = nginx_main_config(folder, nginx_site(upstreams, port=port, folder=folder), connections=connections)
    proc = subprocess.Popen(
        [NGINX, "-c", str(conf), "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {(folder / 'error.log').read_text(errors='replace')[-2000:]}")
            with suppress(httpx.HTTPError):
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)  # graceful: lets open WebSockets go
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Site:
    hosts: list[Host]
    nginx_url: str
    folder: Path  # host logs, nginx/ (its config and error.log)


@contextmanager
def site(
    database_url: str,
    env: dict[str, str],
    folder: Path,
    *,
    hosts: int = 2,
    workers: int = 2,
    nginx_port: int,
    nginx_connections: int = 1024,
    start_timeout: float = 60,
) -> Iterator[Site]:
    """`hosts` namespaces each running WINS with `workers` workers on `database_url` (PostgreSQL, reached
    through its Unix socket), nginx in front. Each host gets its own data folder, as separate machines would."""
    socket_url = unix_socket_url(database_url)
    with ExitStack() as stack:
        started: list[Host] = []
        for i in range(hosts):
            netns = stack.enter_context(namespace(i))
            data = folder / f"host{i}"
            data.mkdir(parents=True, exist_ok=True)
            host_env = {**env, "WINS_DATABASE_URL": socket_url, "WINS_DATA_DIR": str(data)}
            host = start_host(netns, host_env, workers=workers, log=folder / f"host{i}.log")
            stack.callback(host.stop)
            started.append(host)
        for host in started:
            wait_until_serving(host.url, timeout=start_timeout, log=host.log)
        url = stack.enter_context(
            nginx(
                [f"{h.netns.address}:{PORT}" for h in started],
                port=nginx_port,
                folder=folder / "nginx",
                connections=nginx_connections,
            )
        )
        yield Site(started, url, folder)
