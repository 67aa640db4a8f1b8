"""Process hygiene for server workers."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, sig: signal.Signals = signal.SIGTERM) -> bool:
    """Ask Linux to send `sig` to this process when its parent dies.

    Why: if a gunicorn master is killed with SIGKILL (OOM killer, `kill -9`, a supervisor giving up), its
    workers would live on as orphans holding the listening socket, and the restarted master would fail with
    "address already in use" forever. With this, orphans get SIGTERM, close the socket at once and drain.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        logger.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        return False
    # The parent may have died between fork() and prctl(): then no signal will ever come.
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)
    return True
