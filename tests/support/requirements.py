"""Tests that need a system tool: skipped on a developer's machine without it, a failure in CI.

CI (`CI` set, `.ci/run`) installs every tool the suite needs (scripts/system-deps), so a missing one there is
a broken install, not a reason to skip: a skip would hide the gap behind a green run. Use `require` inside a
test, or in a module-scoped autouse fixture for a whole module (autouse fixtures run first in their scope).
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require(available: bool, reason: str) -> None:
    """Skip (or fail, in CI) when `available` is false."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{reason}; CI must provide it (scripts/system-deps)", pytrace=False)
    pytest.skip(reason)
