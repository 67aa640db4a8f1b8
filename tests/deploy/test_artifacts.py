"""Shipped files that are generated or parsed by other tools stay consistent."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.deploy.conftest import REPO


def test_postman_collection_is_generated_from_build_py() -> None:
    result = subprocess.run([sys.executable, str(REPO / "postman" / "build.py"), "--check"], capture_output=True)
    assert result.returncode == 0, "run `python postman/build.py` and commit the JSON"


def test_postman_environment_names_the_three_variables() -> None:
    env = json.loads((REPO / "postman" / "wins.postman_environment.json").read_text())
    assert {v["key"] for v in env["values"]} == {"baseUrl", "username", "password"}


def test_shell_scripts_parse() -> None:
    for script in (
        "deploy/install-debian.sh",
        "scripts/smoke.sh",
        "scripts/build-bundle",
        "scripts/serve",
        "scripts/test",
        "scripts/lib/venv.sh",
        "scripts/system-deps",
        "scripts/ensure-postgres",
    ):
        assert subprocess.run(["bash", "-n", str(REPO / script)]).returncode == 0, script


def test_package_metadata_licence_and_extras() -> None:
    """An SPDX licence string (no setuptools deprecation warnings on every install), and the default server
    extra installs from wheels alone: uWSGI, which compiles, is an extra of its own."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "AGPL-3.0-or-later"
    extras = project["optional-dependencies"]
    assert not any(dep.startswith("uwsgi") for dep in extras["deploy"])
    assert any(dep.startswith("uwsgi") for dep in extras["uwsgi"])
    assert any(dep.startswith("a2wsgi") for dep in extras["uwsgi"])
    assert "deploy,uwsgi" in (REPO / "scripts" / "test").read_text()  # the uWSGI tests still get uWSGI
