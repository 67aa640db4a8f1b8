"""Every runtime dependency declared in pyproject.toml is used by the code (an unused one is attack surface and
install weight for nothing: issue 11 found `httpx2`, which nothing imported)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Distribution name -> the module it installs, where the two differ.
IMPORT_NAMES = {
    "python-escpos": "escpos",
    "pyserial": "serial",
    "pyusb": "usb",
    "argon2-cffi": "argon2",
    "python-multipart": "python_multipart",
    "pydantic-settings": "pydantic_settings",
    "pillow": "PIL",
    "py-vapid": "py_vapid",
}
# Dependencies WINS needs but reaches through another library, never by importing them itself: each names the
# module of ours-or-theirs import that must be present in src/ for the dependency to be needed.
USED_THROUGH = {
    "python-multipart": "fastapi",  # Form(...) on the sign-in and admin pages: FastAPI parses forms with it
    "pyusb": "escpos",  # usb:// printers: python-escpos's Usb printer class drives pyusb
    "pyserial": "escpos",  # serial:// printers: python-escpos's Serial printer class drives pyserial
    "jinja2": "fastapi.templating",  # Jinja2Templates renders the web and display pages
}


def _declared() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = []
    for requirement in project["dependencies"]:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert match, requirement
        names.append(match.group(0).lower())
    return names


def _imported_modules() -> set[str]:
    """Every module imported anywhere in src/ (also inside functions), with each of its parent packages."""
    found: set[str] = set()
    for path in (ROOT / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                found.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return found


def test_every_declared_dependency_is_imported_by_the_code() -> None:
    imported = _imported_modules()
    unused = []
    for dist in _declared():
        module = IMPORT_NAMES.get(dist, dist.replace("-", "_"))
        if module in imported:
            continue
        if dist in USED_THROUGH and USED_THROUGH[dist] in imported:
            continue
        unused.append(f"{dist} (module {module})")
    assert not unused, f"declared in pyproject.toml but never imported in src/: {unused}"


def test_the_check_would_catch_an_unused_dependency() -> None:
    # The parser sees through extras and version markers, and httpx2 (removed in issue 11) is not imported.
    assert "httpx2" not in _declared()
    assert "httpx2" not in _imported_modules()
    assert {"uvicorn", "psycopg", "fastapi"} <= set(_declared())
