"""A fresh, minimal Debian 12 (debootstrap: python3, python3-venv, git, ca-certificates and nothing else):
the README's first command works there, and so does the installer from the offline bundle with no network
at all. Both servers are then used over real HTTP: /health, sign-in, issue, call.

Needs root, debootstrap and the Debian mirror (once: the root is cached as a tarball in WINS_TEST_CACHE,
default ~/.cache/wins-tests). The commands run in a chroot inside a private mount and PID namespace
(`unshare`), so /proc and /dev mounts disappear with them and a server dies with its namespace.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from tests.deploy.conftest import REPO, free_port, stop, wait_for_health
from tests.support.requirements import require

PACKAGES = ["python3", "python3-venv", "git", "ca-certificates"]
SUITE = "bookworm"
CACHE = Path(os.environ.get("WINS_TEST_CACHE", Path.home() / ".cache" / "wins-tests"))
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # the first run builds the Debian root (debootstrap: minutes)
]


@pytest.fixture(scope="module", autouse=True)
def _needs_root_and_debootstrap() -> None:
    require(os.geteuid() == 0, "debootstrap and chroot need root")
    require(shutil.which("debootstrap") is not None, "needs debootstrap (scripts/system-deps)")


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (the one known to be reachable from here)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        text = source.read_text() if source.is_file() else ""
        for uri in re.findall(r"(?:URIs:\s*|^deb\s+(?:\[[^]]*\]\s+)?)(\S+)", text, re.MULTILINE):
            if str(uri).rstrip("/").endswith("/debian"):
                return str(uri)
    return "http://deb.debian.org/debian"


def bookworm_tarball() -> Path:
    """A minimal bookworm root as a tarball, made once and kept in the cache (debootstrap takes minutes)."""
    key = hashlib.sha256(" ".join([SUITE, *PACKAGES]).encode()).hexdigest()[:12]
    tarball = CACHE / f"{SUITE}-minbase-{key}.tar"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    build = CACHE / f"build-{os.getpid()}"
    try:
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(build),
                debian_mirror(),
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
        shutil.rmtree(build / "var/cache/apt/archives", ignore_errors=True)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(build), "--numeric-owner", "-cf", str(partial), "."], check=True)
        partial.rename(tarball)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return tarball


@pytest.fixture(scope="module")
def debian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bookworm")
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-xf", str(bookworm_tarball())], check=True)
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
    # The certificate authorities this machine trusts (a network may inspect TLS with its own CA, as a
    # site's firewall can): a box on that network would be given the same.
    shutil.copyfile("/etc/ssl/certs/ca-certificates.crt", root / "etc/ssl/certs/ca-certificates.crt")
    return root


def chroot_command(root: Path, script: str, *, network: bool = True) -> list[str]:
    """`script` run by bash as root in the chroot, with /proc and /dev, a clean environment (no pip or
    Python settings from this machine), optionally without any network (a new, empty network namespace)."""
    setup = f'mount --rbind /dev "{root}/dev" && mount -t proc proc "{root}/proc" && exec chroot "{root}" "$@"'
    return [
        "unshare",
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        *([] if network else ["--net"]),
        "sh",
        "-c",
        setup,
        "sh",
        "env",
        "-i",
        f"PATH={PATH}",
        "HOME=/root",
        "LANG=C.UTF-8",
        # pip (its vendored certifi) and Python's ssl read the system bundle copied in above.
        "PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
        "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
        "bash",
        "-c",
        script,
    ]


def inside(root: Path, script: str, *, network: bool = True, timeout: float = 300) -> str:
    result = subprocess.run(
        chroot_command(root, script, network=network), capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{script}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


@contextmanager
def server_inside(root: Path, script: str, log: Path) -> Iterator[Path]:
    proc = subprocess.Popen(
        chroot_command(root, script), stdout=log.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    try:
        yield log
    finally:
        stop(proc, timeout=30)


def wait_for_line(log: Path, marker: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if marker in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{marker!r} not printed within {timeout}s:\n{log.read_text(errors='replace')[-4000:]}")


def use_the_queue(url: str, password: str) -> None:
    """Over HTTP, as a site would: health, sign-in, a ticket issued, that ticket called."""
    health = httpx.get(url + "/health", timeout=10)
    assert health.status_code == 200 and health.json()["database_ok"] is True, health.text
    r = httpx.post(url + "/api/v1/auth/token", data={"username": "admin", "password": password}, timeout=10)
    assert r.status_code == 200, r.text
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    services = httpx.get(url + "/api/v1/services", headers=auth, timeout=10).json()
    counters = httpx.get(url + "/api/v1/counters", headers=auth, timeout=10).json()
    service = services[0]
    counter = next(c for c in counters if service["id"] in c["service_ids"])
    ticket = httpx.post(
        url + "/api/v1/tickets",
        json={"service_id": service["id"]},
        headers={**auth, "Idempotency-Key": "fresh-debian-1"},
        timeout=10,
    )
    assert ticket.status_code == 201, ticket.text
    assert httpx.post(url + f"/api/v1/counters/{counter['id']}/open", headers=auth, timeout=10).status_code == 200
    called = httpx.post(url + f"/api/v1/counters/{counter['id']}/call-next", headers=auth, timeout=10)
    assert called.status_code == 200, called.text
    assert called.json()["id"] == ticket.json()["id"] and called.json()["status"] == "called"


def readme_block(after: str) -> str:
    text = (REPO / "README.md").read_text()
    return text.split(after, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]


def test_readme_first_command_on_a_fresh_debian(debian: Path, tmp_path: Path) -> None:
    """`scripts/serve` in a checkout on a box with only the README's prerequisites (it downloads from PyPI),
    then the README's API example, run as printed (curl and python3, no jq)."""
    checkout = debian / "root" / "wins"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, checkout / name)
    # A first run that failed half-way (as without python3-venv) must not block the next one.
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "python").symlink_to("/usr/bin/python3")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with server_inside(debian, f"cd /root/wins && scripts/serve --port {port}", log):
        out = wait_for_line(log, "Health:", timeout=400)
        assert "Rebuilding .venv" in out
        password = out.split("password '", 1)[1].split("'", 1)[0]
        wait_for_health(url, None, timeout=60)
        use_the_queue(url, password)

        example = readme_block("## API at a glance")
        assert "jq" not in example
        example = example.replace("localhost:8000", f"127.0.0.1:{port}").replace("password=…", f"password={password}")
        example = example.replace("7f1c…", "readme-example-1")
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", example], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert '"number":"A' in result.stdout and '"status":"called"' in result.stdout, result.stdout
    assert (checkout / ".venv" / "bin" / "wins").exists()


def test_offline_bundle_installs_without_network_or_compiler(
    debian: Path, offline_bundle: Path, tmp_path: Path
) -> None:
    """The installer from the bundle, in a network namespace with no network at all, on a box with no C
    compiler; then the installed gunicorn serves the queue."""
    assert not (debian / "usr/bin/gcc").exists() and not (debian / "usr/bin/cc").exists()
    shutil.copytree(offline_bundle, debian / "root" / "bundle", symlinks=True)
    out = inside(debian, "/root/bundle/install.sh --no-systemctl", network=False, timeout=400)
    assert "offline" in out and "runuser -u wins" in out and "sudo" not in out
    # The site's set-up, as the install's closing message says: `wins setup` as the service account with the
    # installed settings (production: no demo data) creates the branch and the first admin.
    password = "fresh-debian-admin-7Qx"
    created = inside(
        debian,
        f"cd /var/lib/wins && echo '{password}' | runuser -u wins -- sh -c 'set -a; . /etc/wins/wins.env; "
        'exec /opt/wins/venv/bin/wins setup --branch "Fresh site" --timezone Europe/Paris --admin admin'
        " --password-stdin' && stat -c %U /var/lib/wins/wins.db",
        network=False,
    )
    assert "Branch 'Fresh site' is set up" in created, created
    assert created.rstrip().endswith("wins"), created  # the database belongs to the service account

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    # What wins.service runs (systemd itself is not in a chroot): the service account, the settings file.
    command = (
        "cd /var/lib/wins && runuser -u wins -- sh -c 'set -a; . /etc/wins/wins.env; "
        f"WINS_PORT={port}; exec /opt/wins/venv/bin/gunicorn --config /opt/wins/gunicorn.conf.py wins.asgi:app'"
    )
    with server_inside(debian, command, log):
        wait_for_health(url, None, timeout=90, log=log)
        # A production install starts empty: the admin sets up a service and a counter, then the queue runs.
        token = httpx.post(url + "/api/v1/auth/token", data={"username": "admin", "password": password}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        service = httpx.post(url + "/api/v1/services", json={"name": "Desk", "prefix": "A"}, headers=auth)
        assert service.status_code == 201, service.text
        counter = httpx.post(
            url + "/api/v1/counters", json={"name": "1", "service_ids": [service.json()["id"]]}, headers=auth
        )
        assert counter.status_code == 201, counter.text
        use_the_queue(url, password)
