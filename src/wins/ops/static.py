"""Lay out the app's static folders for a front web server: `python -m wins.ops.static DEST [ROOT]`.

Each folder the app serves under a URL prefix (e.g. /static/staff) becomes a symlink DEST/<prefix> → folder,
so nginx can serve DEST with `root` and pass anything it does not find to the app (deploy/nginx/wins.conf).
Asking the app (instead of listing folders here) keeps this right when a part of WINS adds a mount.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi import FastAPI
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles


def static_mounts(app: FastAPI) -> list[tuple[str, Path]]:
    """(URL prefix, folder) of every StaticFiles mount."""
    found = []
    for route in app.routes:
        if isinstance(route, Mount) and isinstance(route.app, StaticFiles) and route.app.directory is not None:
            found.append((route.path, Path(route.app.directory).resolve()))
    return found


def link(dest: Path, mounts: list[tuple[str, Path]], *, root: Path | None = None) -> list[Path]:
    """Create the symlinks; with `root`, link targets are written as seen from inside that root."""
    made = []
    for prefix, folder in mounts:
        target = folder
        if root is not None and root != Path("/") and folder.is_relative_to(root):
            target = Path("/") / folder.relative_to(root)
        path = dest / prefix.strip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        path.symlink_to(target, target_is_directory=True)
        made.append(path)
    return made


def main(argv: list[str]) -> int:
    from wins.app import create_app

    dest = Path(argv[0])
    root = Path(argv[1]).resolve() if len(argv) > 1 and argv[1] else None
    for path in link(dest, static_mounts(create_app()), root=root):
        sys.stdout.write(f"{path} -> {path.readlink()}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
