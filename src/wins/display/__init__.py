"""The waiting-room display board and the customer's ticket tracking page."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from wins.deps import WebHooks
from wins.display.speech import SpeechCache


def install(app: FastAPI) -> None:
    """Add /display, /t/{tracking_token}, the speech files and the static assets to the app."""
    from wins.display.routes import device_cookie_principal, router

    settings = app.state.settings
    app.state.speech_cache = SpeechCache(Path(settings.data_dir) / "speech")
    app.include_router(router)
    hooks: WebHooks = app.state.web_hooks
    hooks.device_cookie_principal = device_cookie_principal
    app.mount("/display/static", StaticFiles(directory=Path(__file__).parent / "static"), name="display_static")
