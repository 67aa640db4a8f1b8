"""What runs: the package version (pyproject.toml's, the one source of truth) and the git commit when known.

The commit comes from `git describe` when WINS runs from a git checkout, else from `wins/COMMIT` if a build
or install script wrote one there (e.g. `git rev-parse --short HEAD > src/wins/COMMIT`), else it is unknown.
"""

from __future__ import annotations

import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def package_version() -> str:
    try:
        return version("wins")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


@cache
def commit() -> str | None:
    """Short commit id (with `-dirty` for uncommitted changes), or None."""
    source_root = PACKAGE_DIR.parent.parent
    if (source_root / ".git").exists():
        try:
            done = subprocess.run(
                ["git", "-C", str(source_root), "describe", "--always", "--dirty", "--abbrev=10", "--exclude=*"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            done = None
        if done is not None and done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    stamp = PACKAGE_DIR / "COMMIT"
    if stamp.is_file():
        return stamp.read_text().strip()[:40] or None
    return None


@cache
def full_version() -> str:
    """`0.1.0` or `0.1.0+g1a2b3c4d5e` (PEP 440 local label), the form `wins --version`, /health, the admin
    pages and the start-up log line show."""
    found = commit()
    return f"{package_version()}+g{found.replace('-', '.')}" if found else package_version()
