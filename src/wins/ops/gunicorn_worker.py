"""The gunicorn worker class for WINS: uvicorn's worker plus readiness, orphan safety and bounded shutdown.

Used by `deploy/gunicorn.conf.py` (`worker_class = "wins.ops.gunicorn_worker.WinsUvicornWorker"`).
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

from uvicorn_worker import UvicornWorker

from wins.ops.process import die_with_parent
from wins.ops.serving import WEBSOCKET_OPTIONS
from wins.ops.systemd import notify_ready
from wins.version import full_version

logger = logging.getLogger(__name__)


class WinsUvicornWorker(UvicornWorker):  # type: ignore[misc]  # gunicorn and uvicorn_worker are untyped
    # No permessage-deflate on the event stream (wins.ops.serving).
    CONFIG_KWARGS: dict[str, Any] = {**UvicornWorker.CONFIG_KWARGS, **WEBSOCKET_OPTIONS}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # UvicornWorker gives uvicorn's loggers gunicorn's handlers and stops them propagating; ours have none
        # (every line goes through the root's one handler, wins.logging_setup), so undo that.
        for name in ("uvicorn.error", "uvicorn.access"):
            uvicorn_logger = logging.getLogger(name)
            uvicorn_logger.handlers = []
            uvicorn_logger.propagate = name == "uvicorn.error"
        # uvicorn waits for open requests (long-polls last up to a minute) without a limit by default;
        # gunicorn's graceful_timeout is the promise an operator reads, so keep it.
        self.config.timeout_graceful_shutdown = int(self.cfg.graceful_timeout)
        self._ready_sent = False

    def init_process(self) -> None:
        # Runs in the forked child, before the app is loaded.
        die_with_parent(self.ppid)
        super().init_process()

    async def callback_notify(self) -> None:
        # uvicorn calls this on its first tick after startup (lifespan done) and then every `timeout / 2` s.
        if os.getppid() != self.ppid:  # second line of defence if PDEATHSIG was not delivered
            logger.warning("gunicorn master %s is gone; worker %s exits", self.ppid, os.getpid())
            os.kill(os.getpid(), signal.SIGTERM)
            return
        self.notify()
        if not self._ready_sent:
            self._ready_sent = True
            notify_ready(f"WINS {full_version()} serving (worker {os.getpid()})")
