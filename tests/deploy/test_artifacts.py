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
