"""Import python-escpos without its two side effects: a new temporary folder per import, and a second log line
for every record. `wins.printing` imports this before anything imports escpos.

escpos.capabilities caches its printer database as a pickle in `$ESCPOS_CAPABILITIES_PICKLE_DIR`, but it
evaluates `mkdtemp()` as the default even when the variable is set (a folder left in /tmp per process: 172
after a day of tests), and it calls `logging.basicConfig()`, which adds a plain stderr handler beside ours.
So the import runs with both replaced, and the cache lives in `<data_dir>/cache/escpos`, shared by all
processes under a lock (a second worker must not read a pickle the first is still writing).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PICKLE_DIR_ENV = "ESCPOS_CAPABILITIES_PICKLE_DIR"


def cache_dir() -> Path:
    """`$ESCPOS_CAPABILITIES_PICKLE_DIR` if set, else `<WINS_DATA_DIR>/cache/escpos` (made if missing), else a
    fixed per-user folder in the temporary directory (a read-only data dir, e.g. a kiosk's)."""
    given = os.environ.get(PICKLE_DIR_ENV)
    if given:
        return Path(given)
    data_dir = Path(os.environ.get("WINS_DATA_DIR") or "var")
    for folder in (data_dir / "cache" / "escpos", Path(tempfile.gettempdir()) / f"wins-escpos-{os.getuid()}"):
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder.resolve()
    raise RuntimeError(f"no writable folder for python-escpos's cache; set {PICKLE_DIR_ENV}")


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover  (not Linux)
        yield
        return
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def prepare() -> None:
    """Import escpos.capabilities the clean way (once per process; later imports are no-ops)."""
    if "escpos.capabilities" in sys.modules:
        return
    folder = cache_dir()
    os.environ[PICKLE_DIR_ENV] = str(folder)
    real_mkdtemp, real_basic_config = tempfile.mkdtemp, logging.basicConfig

    def no_mkdtemp(*_: Any, **__: Any) -> str:
        return str(folder)

    def no_basic_config(*_: Any, **__: Any) -> None:
        return None

    tempfile.mkdtemp = no_mkdtemp  # type: ignore[assignment]
    logging.basicConfig = no_basic_config
    try:
        with _locked(folder):
            try:
                import escpos.capabilities  # noqa: F401
            except Exception:
                # A pickle cut short (a crash mid-write) would break every start: drop the cache, retry once.
                for stale in folder.glob("*.capabilities.pickle"):
                    stale.unlink()
                sys.modules.pop("escpos.capabilities", None)
                import escpos.capabilities  # noqa: F401
    finally:
        tempfile.mkdtemp, logging.basicConfig = real_mkdtemp, real_basic_config


prepare()
