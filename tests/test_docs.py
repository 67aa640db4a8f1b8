"""The README stays true to the code."""

from __future__ import annotations

from pathlib import Path

from wins.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [f"WINS_{name.upper()}" for name in Settings.model_fields if f"`WINS_{name.upper()}`" not in readme]
    assert missing == []


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test" in readme
    assert "scripts/test" in ci
