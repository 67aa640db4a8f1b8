"""deploy/install-debian.sh run twice into a temporary root, then uninstalled: the tree is right, the
secret and the data survive the second run, --purge removes everything."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from tests.deploy.conftest import DEPLOY, REPO

pytestmark = pytest.mark.slow  # the installer creates accounts: like on a real host, it runs as root
SCRIPT = DEPLOY / "install-debian.sh"


def run(*args: str, root: Path) -> str:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("DESTDIR", None)
    result = subprocess.run(
        ["bash", str(SCRIPT), "--root", str(root), *args], capture_output=True, text=True, env=env, timeout=400
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def base_system(root: Path) -> None:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    (root / "etc" / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc" / "gshadow").write_text("root:*::\n")


def account(root: Path, name: str, file: str = "passwd") -> list[str]:
    for line in (root / "etc" / file).read_text().splitlines():
        if line.split(":")[0] == name:
            return line.split(":")
    return []


def wins(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    settings = dict(
        line.split("=", 1)
        for line in (root / "etc/wins/wins.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    env = {**os.environ, **settings, "WINS_DATA_DIR": str(root / "var/lib/wins")}
    return subprocess.run(
        [str(root / "opt/wins/venv/bin/wins"), *args], capture_output=True, text=True, env=env, check=True
    )


def test_install_twice_then_uninstall(tmp_path: Path) -> None:
    root = tmp_path / "root"
    base_system(root)

    first = run(root=root)
    assert "installing WINS" in first

    user = account(root, "wins")
    assert user and user[5] == "/var/lib/wins" and user[6] == "/usr/sbin/nologin"
    uid, gid = int(user[2]), int(user[3])
    assert uid < 1000  # a system account
    assert account(root, "wins", "group")[2] == str(gid)

    env_file = root / "etc/wins/wins.env"
    mode = env_file.stat()
    assert stat.S_IMODE(mode.st_mode) == 0o640 and mode.st_gid == gid and mode.st_uid == 0
    settings = env_file.read_text()
    assert "WINS_ENV=production\n" in settings and "WINS_DATA_DIR=/var/lib/wins\n" in settings
    secret = next(line for line in settings.splitlines() if line.startswith("WINS_SECRET_KEY="))
    assert len(secret.split("=", 1)[1]) >= 48

    data = root / "var/lib/wins"
    assert stat.S_IMODE(data.stat().st_mode) == 0o750 and data.stat().st_uid == uid
    assert (data / "wins.db").stat().st_uid == uid
    assert os.access(root / "opt/wins/venv/bin/wins", os.X_OK)
    assert os.access(root / "opt/wins/venv/bin/gunicorn", os.X_OK)
    assert (root / "opt/wins/gunicorn.conf.py").read_text() == (DEPLOY / "gunicorn.conf.py").read_text()
    assert (root / "opt/wins/uwsgi.ini").exists()
    assert (root / "etc/systemd/system/wins.service").read_text() == (DEPLOY / "systemd/wins.service").read_text()
    assert not (root / "etc/systemd/user/wins-kiosk.service").exists()  # only with --kiosk
    staff_static = root / "opt/wins/public/static/staff"
    assert staff_static.is_symlink() and str(staff_static.readlink()).startswith("/opt/wins/venv/")

    # The schema is there and usable; data written now must survive an upgrade.
    wins(root, "users", "create", "keeper", "--role", "admin")

    second = run("--kiosk", root=root)
    assert "upgrading WINS" in second and "Keeping settings" in second
    assert env_file.read_text() == settings
    result = subprocess.run(
        [
            str(root / "opt/wins/venv/bin/python"),
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("
            "\"select count(*) from staff_users where username='keeper'\").fetchone()[0])",
            str(data / "wins.db"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "1"
    assert (root / "etc/systemd/user/wins-kiosk.service").exists()
    assert [line for line in (root / "etc/passwd").read_text().splitlines() if line.startswith("wins:")] == [
        ":".join(user)
    ]

    run("--uninstall", root=root)
    assert not (root / "opt/wins").exists()
    assert not (root / "etc/systemd/system/wins.service").exists()
    assert env_file.exists() and (data / "wins.db").exists()  # settings and data are kept

    run("--uninstall", "--purge", root=root)
    assert not (root / "etc/wins").exists() and not data.exists()
    assert not account(root, "wins") and not account(root, "wins", "group")


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    base_system(root)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    out = run("--dry-run", root=root)
    assert "would run:" in out and "useradd" in out and "pip install" in out
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert REPO.exists()
