"""The installer from the offline bundle (scripts/build-bundle), run twice into an empty folder with no
index reachable, then uninstalled: the tree is right, the secret and the data survive the second run,
--purge asks first and then removes everything."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tests.deploy.conftest import DEPLOY, REPO, no_pip_config_env

pytestmark = pytest.mark.slow  # the installer creates accounts: like on a real host, it runs as root
SCRIPT = DEPLOY / "install-debian.sh"


def run(*args: str, root: Path, script: Path = SCRIPT, ok: bool = True) -> subprocess.CompletedProcess[str]:
    # No pip configuration and an index that does not answer: only the bundle's wheels can be installed.
    env = {**no_pip_config_env(), "PIP_INDEX_URL": "http://127.0.0.1:9/simple"}
    result = subprocess.run(
        ["bash", str(script), "--root", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=400,
        stdin=subprocess.DEVNULL,
    )
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def base_system(root: Path) -> None:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text("root:x:0:\n")


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
    env = {**no_pip_config_env(), **settings, "WINS_DATA_DIR": str(root / "var/lib/wins")}
    return subprocess.run(
        [str(root / "opt/wins/venv/bin/wins"), *args], capture_output=True, text=True, env=env, check=True
    )


def test_bundle_install_twice_into_an_empty_folder_then_uninstall(tmp_path: Path, offline_bundle: Path) -> None:
    root = tmp_path / "root"  # does not even exist: --root makes what a system would have
    install = offline_bundle / "install.sh"

    first = run(root=root, script=install).stdout
    assert "installing WINS" in first and "wheelhouse" in first and "offline" in first

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
    assert (root / "etc/systemd/system/wins-uwsgi.service").exists()
    assert not (root / "opt/wins/venv/bin/uwsgi").exists()  # uWSGI is an opt-in extra (--uwsgi)
    assert not (root / "etc/systemd/user/wins-kiosk.service").exists()  # only with --kiosk
    staff_static = root / "opt/wins/public/static/staff"
    assert staff_static.is_symlink() and str(staff_static.readlink()).startswith("/opt/wins/venv/")

    # The schema is there and usable; data written now must survive an upgrade.
    wins(root, "users", "create", "keeper", "--role", "admin")

    second = run("--kiosk", root=root, script=install).stdout
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

    run("--uninstall", root=root, script=install)
    assert not (root / "opt/wins").exists()
    assert not (root / "etc/systemd/system/wins.service").exists()
    assert env_file.exists() and (data / "wins.db").exists()  # settings and data are kept

    refused = run("--uninstall", "--purge", root=root, script=install, ok=False)  # nobody to ask: no
    assert refused.returncode == 1 and "--yes" in refused.stderr, refused.stdout + refused.stderr
    assert env_file.exists() and (data / "wins.db").exists() and account(root, "wins")

    run("--uninstall", "--purge", "--yes", root=root, script=install)
    assert not (root / "etc/wins").exists() and not data.exists()
    assert not account(root, "wins") and not account(root, "wins", "group")


def test_purge_asks_on_a_terminal(tmp_path: Path) -> None:
    """Typed answers on a real terminal: anything but "yes" keeps the data."""
    import pty

    root = tmp_path / "root"
    (root / "etc/wins").mkdir(parents=True)
    (root / "var/lib/wins").mkdir(parents=True)
    (root / "var/lib/wins/wins.db").write_text("precious")
    for answer, kept in ((b"no\n", True), (b"yes\n", False)):
        pid, fd = pty.fork()
        if pid == 0:  # the child: stdin is the terminal
            os.execvp("bash", ["bash", str(SCRIPT), "--root", str(root), "--uninstall", "--purge"])
        seen = b""
        while b"Type 'yes'" not in seen:
            seen += os.read(fd, 1024)
        assert b"ALL DATA" in seen
        os.write(fd, answer)
        while True:
            try:
                if not os.read(fd, 1024):
                    break
            except OSError:  # the child closed the terminal
                break
        os.waitpid(pid, 0)
        assert (root / "var/lib/wins/wins.db").exists() == kept


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    base_system(root)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    out = run("--dry-run", root=root).stdout
    assert "would run:" in out and "useradd" in out and "pip install" in out
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert REPO.exists()


@pytest.mark.parametrize("script", ["scripts/serve", "scripts/test"])
def test_a_half_made_venv_is_rebuilt(script: str, tmp_path: Path) -> None:
    """What a failed first run leaves (python3 -m venv without python3-venv: bin/python, no pip) is noticed
    and rebuilt by both scripts, instead of blocking them until someone deletes it."""
    text = (REPO / script).read_text()
    assert ". scripts/lib/venv.sh" in text and "\nensure_venv\n" in text
    assert text.index("ensure_venv\n") < text.index(".venv/bin/pip install")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /nowhere\n")
    env = {**no_pip_config_env(), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-c", f". {REPO}/scripts/lib/venv.sh && ensure_venv && .venv/bin/python -m pip --version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Rebuilding .venv" in result.stdout and "pip " in result.stdout
