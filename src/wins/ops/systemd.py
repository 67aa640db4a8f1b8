"""sd_notify without a dependency: one datagram to the socket systemd names in $NOTIFY_SOCKET.

Gunicorn's master says READY=1 as soon as it has bound its socket, before any worker has loaded the app and
run its startup (event hub, database). `gunicorn.conf.py` therefore hides the socket from the master
(`hold_notify_socket`) and the first worker that is really serving says READY=1 (the unit sets
NotifyAccess=all so systemd accepts it from a child of the main process).
"""

from __future__ import annotations

import logging
import os
import socket

logger = logging.getLogger(__name__)

HELD_ENV = "WINS_NOTIFY_SOCKET"


def notify(state: str, *, env: str = "NOTIFY_SOCKET") -> bool:
    """Send `state` (e.g. "READY=1\\nSTATUS=…") to systemd. False when not run by systemd or on failure."""
    address = os.environ.get(env, "")
    if not address:
        return False
    if address[0] == "@":  # abstract namespace socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        logger.warning("could not notify systemd at %s: %s", address, exc)
        return False
    return True


def hold_notify_socket() -> None:
    """Move $NOTIFY_SOCKET aside so that only `notify_ready` (called by a serving worker) reports readiness."""
    address = os.environ.pop("NOTIFY_SOCKET", None)
    if address:
        os.environ[HELD_ENV] = address


def notify_ready(status: str) -> bool:
    """READY=1 from a worker whose app has finished starting (uses the held socket, else $NOTIFY_SOCKET)."""
    env = HELD_ENV if os.environ.get(HELD_ENV) else "NOTIFY_SOCKET"
    return notify(f"READY=1\nSTATUS={status}", env=env)
