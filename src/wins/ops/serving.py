"""uvicorn settings every way of serving WINS shares (deploy/gunicorn.conf.py's worker, `wins serve`)."""

from __future__ import annotations

from typing import Any

# No permessage-deflate on WebSockets (uvicorn's default, and every browser asks for it). It compresses each
# frame for each socket apart: an event of 200-400 bytes sent to 1,000 screens was deflated 1,000 times, a
# quarter of the server's CPU per delivery (py-spy, docs/performance.md §3), and each socket kept its own
# zlib state (~40 KiB). Events are small and screens sit on the site's network: send them as they are.
WEBSOCKET_OPTIONS: dict[str, Any] = {"ws_per_message_deflate": False}
