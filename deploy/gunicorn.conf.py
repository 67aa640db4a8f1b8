"""Gunicorn settings for WINS: `gunicorn -c deploy/gunicorn.conf.py wins.asgi:app`.

Everything an operator usually changes comes from the same WINS_* variables as the rest of WINS
(/etc/wins/wins.env under systemd): WINS_HOST, WINS_PORT, WINS_WORKERS, WINS_LOG_LEVEL.
Gunicorn's own variable GUNICORN_BIND, if set, wins over WINS_HOST/WINS_PORT (e.g. `unix:/run/wins/wins.sock`).
"""

import os
import shutil
from pathlib import Path

from wins.config import get_settings
from wins.logging_setup import server_log_config
from wins.ops.systemd import hold_notify_socket

_settings = get_settings()

# -- metrics ---------------------------------------------------------------------------------------------
# /metrics adds up every worker's figures from files in this folder (prometheus-client's multi-process mode).
# Set before any worker imports prometheus_client; emptied when the master starts (on_starting).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str((_settings.data_dir / "metrics").resolve()))

# -- sockets and processes -------------------------------------------------------------------------------
bind = [os.environ.get("GUNICORN_BIND") or f"{_settings.host}:{_settings.port}"]
# SQLite: one writer process is the safe default. PostgreSQL: several workers (and hosts) share the event
# stream through LISTEN/NOTIFY, so WINS_WORKERS can follow the CPU count.
workers = _settings.workers
worker_class = "wins.ops.gunicorn_worker.WinsUvicornWorker"
# Never import the app in the master: each worker builds its own engine, event hub and asyncio loop.
preload_app = False
# Long-polls hold a request for up to 60 s; the worker heartbeat is independent of requests with uvicorn,
# so this only catches a worker whose event loop is stuck.
timeout = 60
# SIGTERM / `systemctl stop` / `systemctl reload` (SIGHUP): workers get this long to finish open requests.
graceful_timeout = 20
keepalive = 5
# X-Forwarded-For/Proto are read by the app itself, from WINS_TRUSTED_PROXIES only (wins.access_log), the same
# way under every server; uvicorn's own rewriting would hide from the app which peer sent them.
forwarded_allow_ips = ""

# gunicorn >= 25.1 opens a control socket in $XDG_RUNTIME_DIR or ~/.gunicorn/ by default; the service
# account has no writable home (ProtectHome, ProtectSystem=strict), and nothing here uses `gunicornc`.
control_socket_disable = True
# The master writes heartbeat files; keep them in memory, never on the (read-only) disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# -- logging ---------------------------------------------------------------------------------------------
# The app logs one line per request itself (logger `wins.access`); gunicorn's and uvicorn's own messages go
# through the same single handler (stderr → journald / supervisor log): one format (WINS_LOG_FORMAT), one
# redaction filter, every line once. Each worker's app replaces the handler with an identical one.
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
logconfig_dict = server_log_config(_settings)
proc_name = "wins"


# -- hooks -----------------------------------------------------------------------------------------------
def on_starting(server):
    from wins.ops.doctor import too_many_workers

    # More workers than CPUs is slower, not faster (docs/performance.md §7d): say so once, in the journal.
    if (crowded := too_many_workers(_settings)) is not None:
        server.log.warning("%s; %s", *crowded)
    # systemd Type=notify: the master would say READY=1 before any worker has started the app; the first
    # worker that is really serving says it instead (wins.ops.gunicorn_worker, NotifyAccess=all).
    hold_notify_socket()
    # Figures of a previous run's workers would otherwise be added to this run's.
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):  # noqa: ARG001
    # A dead worker's open WebSockets are no longer open (the "livesum" gauge drops its file).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
