"""The staff web interface: sign-in, counter workspace, live dashboard, admin pages and reports.

Server-rendered (Jinja2) with a little plain JavaScript; every asset is in `static/` (sites run on LANs
without internet, so nothing loads from a CDN).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from wins.deps import WebHooks

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add the staff pages to the app, the HTML error pages, and the session hooks `wins.deps` consults."""
    from wins.web import admin, admin_setup, admin_users, branch_picker, hours, pages, reports, routes, session

    app.include_router(routes.router)
    app.include_router(admin.router)
    app.include_router(admin_users.router)
    app.include_router(admin_setup.router)
    app.include_router(hours.router)
    app.include_router(reports.router)
    app.include_router(branch_picker.router)
    app.mount("/static/staff", StaticFiles(directory=STATIC_DIR), name="staff-static")
    hooks: WebHooks = app.state.web_hooks
    hooks.html_error_handler = pages.html_error_handler
    hooks.session_principal = session.session_principal
    hooks.session_csrf = session.session_csrf
