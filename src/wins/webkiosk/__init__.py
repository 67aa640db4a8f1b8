"""The web kiosk for tablets (/kiosk): the Kivy kiosk's screens and behaviour as a page."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def install(app: FastAPI) -> None:
    """Add /kiosk, its QR codes, server-side printing and its static files to the app."""
    from wins.webkiosk.printing import TabletPrinting
    from wins.webkiosk.routes import router

    app.state.tablet_printing = TabletPrinting()  # its retry rounds run while the app serves (wins.app)
    app.include_router(router)
    app.mount("/kiosk/static", StaticFiles(directory=Path(__file__).parent / "static"), name="webkiosk_static")
