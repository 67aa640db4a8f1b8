"""Every route × every role: exactly who may do what.

The route list comes from the app itself, so a new route without an entry in ACCESS fails this test until
someone decides who may call it. "Refused" means 401/403 (API), a redirect to /login (pages), or a closed
WebSocket; "allowed" means anything else (a 404 or 409 for the made-up target is fine: the caller got past
the door). Each role carries every credential it could have: staff users send their bearer token and a web
session cookie (with the CSRF token), the display its token as a bearer header and as its pairing cookie.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import _IncludedRouter  # FastAPI ≥ 0.16x mounts routers lazily; this walks them
from starlette.routing import BaseRoute, Mount
from starlette.websockets import WebSocketDisconnect

from tests.conftest import Api
from tests.support.seed import PASSWORD
from tests.support.seed import _password_hash as password_hash
from wins.db import Database
from wins.devices.models import DeviceKind
from wins.devices.service import create_device
from wins.staff.models import Role, StaffUser
from wins.staff.security import sign
from wins.staff.service import issue_token

ROLES = ("anonymous", "kiosk", "display", "reception", "staff", "manager", "admin")
EVERYONE = frozenset(ROLES)
TOKEN = EVERYONE - {"anonymous"}
DEVICES = frozenset({"kiosk", "display"})
STAFF = frozenset({"staff", "manager", "admin"})
DESK = STAFF | {"reception"}  # every staff account: reception issues tickets and sees the queue, but calls nobody
MANAGER = frozenset({"manager", "admin"})
ADMIN = frozenset({"admin"})

# (method, path) -> who may call it.
ACCESS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/openapi.json"): EVERYONE,
    ("GET", "/docs"): EVERYONE,
    ("GET", "/health"): EVERYONE,
    ("GET", "/metrics"): EVERYONE,  # unless WINS_METRICS_TOKEN / WINS_METRICS_ALLOW restrict it
    ("MOUNT", "/static/vendor"): EVERYONE,
    ("MOUNT", "/static/docs"): EVERYONE,
    ("MOUNT", "/static/staff"): EVERYONE,
    ("MOUNT", "/display/static"): EVERYONE,
    ("MOUNT", "/kiosk/static"): EVERYONE,
    # The web kiosk (wins.webkiosk) and kiosk help (issue 18): a kiosk asks, staff answer.
    ("GET", "/kiosk"): frozenset({"kiosk"}),
    ("GET", "/kiosk/qr/{ticket_id}.svg"): frozenset({"kiosk"}),
    ("POST", "/kiosk/tickets/{ticket_id}/print"): frozenset({"kiosk"}),
    ("GET", "/api/v1/devices/me/kiosk"): frozenset({"kiosk"}),
    ("POST", "/api/v1/devices/me/help"): frozenset({"kiosk"}),
    ("GET", "/api/v1/devices/help"): STAFF,
    ("POST", "/api/v1/devices/{device_id}/help/acknowledge"): STAFF,
    ("POST", "/api/v1/auth/token"): EVERYONE,
    ("POST", "/api/v1/auth/logout"): DESK,
    ("GET", "/api/v1/auth/me"): DESK,
    ("PUT", "/api/v1/auth/me/preferences"): DESK,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("PATCH", "/api/v1/users/{user_id}"): ADMIN,
    ("GET", "/api/v1/branch"): TOKEN,
    ("PATCH", "/api/v1/branch"): MANAGER,
    ("GET", "/api/v1/branches"): ADMIN,
    ("POST", "/api/v1/branches"): ADMIN,
    ("PATCH", "/api/v1/branches/{branch_id}"): ADMIN,
    ("GET", "/api/v1/services"): TOKEN,
    ("POST", "/api/v1/services"): MANAGER,
    ("PATCH", "/api/v1/services/{service_id}"): MANAGER,
    ("DELETE", "/api/v1/services/{service_id}"): MANAGER,
    ("POST", "/api/v1/services/{service_id}/archive"): MANAGER,
    ("POST", "/api/v1/services/{service_id}/restore"): MANAGER,
    ("DELETE", "/api/v1/counters/{counter_id}"): MANAGER,
    ("POST", "/api/v1/counters/{counter_id}/archive"): MANAGER,
    ("POST", "/api/v1/counters/{counter_id}/restore"): MANAGER,
    ("GET", "/api/v1/counters"): TOKEN,
    ("POST", "/api/v1/counters"): MANAGER,
    ("PATCH", "/api/v1/counters/{counter_id}"): MANAGER,
    ("POST", "/api/v1/counters/{counter_id}/open"): STAFF,
    ("POST", "/api/v1/counters/{counter_id}/close"): STAFF,
    ("POST", "/api/v1/counters/{counter_id}/pause"): STAFF,
    ("POST", "/api/v1/counters/{counter_id}/resume"): STAFF,
    ("POST", "/api/v1/counters/{counter_id}/call-next"): STAFF,
    ("POST", "/api/v1/counters/{counter_id}/call/{ticket_id}"): STAFF,
    ("GET", "/api/v1/counters/stranded"): MANAGER,
    ("GET", "/api/v1/tickets/history"): MANAGER,
    ("POST", "/api/v1/tickets/{ticket_id}/reassign"): MANAGER,
    ("POST", "/api/v1/tickets/{ticket_id}/reprint"): DESK,
    ("POST", "/api/v1/tickets"): DESK | {"kiosk"},
    ("GET", "/api/v1/tickets/{ticket_id}"): DESK | {"kiosk"},  # the kiosk only the tickets it issued
    ("POST", "/api/v1/tickets/{ticket_id}/transfer"): STAFF,
    ("POST", "/api/v1/tickets/{ticket_id}/undo"): STAFF,
    ("POST", "/api/v1/tickets/{ticket_id}/check-in"): DESK,  # arrival check-in at the desk (issue 17)
    ("POST", "/api/v1/tickets/{ticket_id}/{action}"): STAFF,
    ("GET", "/api/v1/queue"): TOKEN,
    ("GET", "/api/v1/public/tickets/{tracking_token}"): EVERYONE,
    ("POST", "/api/v1/public/tickets/{tracking_token}/cancel"): EVERYONE,
    ("POST", "/api/v1/public/tickets/{tracking_token}/check-in"): EVERYONE,
    ("GET", "/api/v1/public/tickets/{tracking_token}/updates"): EVERYONE,
    ("GET", "/api/v1/devices"): ADMIN,
    ("POST", "/api/v1/devices"): ADMIN,
    ("PATCH", "/api/v1/devices/{device_id}"): ADMIN,
    ("POST", "/api/v1/devices/{device_id}/revoke"): ADMIN,
    ("POST", "/api/v1/devices/{device_id}/pairing-code"): ADMIN,
    ("GET", "/api/v1/devices/me"): DEVICES,
    ("POST", "/api/v1/devices/me/status"): DEVICES,
    ("GET", "/api/v1/events"): TOKEN,
    ("WS", "/api/v1/events/ws"): TOKEN,
    ("POST", "/api/v1/events/tickets"): TOKEN,
    ("GET", "/display"): MANAGER | {"display"},
    ("GET", "/display/config"): MANAGER | {"display"},
    ("POST", "/display/stream-ticket"): MANAGER | {"display"},
    ("GET", "/display/speech/{lang}/{number}/{counter}.wav"): DESK | {"display"},
    ("GET", "/t/{tracking_token}"): EVERYONE,
    # `/` is open to all, but without a staff session its answer is the way to /login (counted as refused here).
    ("GET", "/"): DESK,  # a signed-in account goes to its page (reception: the workspace's issuing side)
    ("GET", "/admin"): STAFF,
    ("GET", "/admin/branches"): ADMIN,
    ("POST", "/admin/branches"): ADMIN,
    ("GET", "/admin/services/{service_id}/retire"): MANAGER,
    ("POST", "/admin/services/{service_id}/delete"): MANAGER,
    ("POST", "/admin/services/{service_id}/archive"): MANAGER,
    ("POST", "/admin/services/{service_id}/restore"): MANAGER,
    ("GET", "/admin/counters/{counter_id}/retire"): MANAGER,
    ("POST", "/admin/counters/{counter_id}/delete"): MANAGER,
    ("POST", "/admin/counters/{counter_id}/archive"): MANAGER,
    ("POST", "/admin/counters/{counter_id}/restore"): MANAGER,
    ("GET", "/login"): EVERYONE,
    ("POST", "/login"): EVERYONE,
    ("GET", "/logout"): EVERYONE,
    ("POST", "/logout"): DESK,
    ("GET", "/staff"): DESK,
    ("GET", "/dashboard"): MANAGER,
    ("GET", "/dashboard/live"): MANAGER,
    ("GET", "/admin/services"): MANAGER,
    ("POST", "/admin/services"): MANAGER,
    ("POST", "/admin/services/{service_id}"): MANAGER,
    ("POST", "/admin/services/{service_id}/remote"): MANAGER,
    ("GET", "/admin/hours"): MANAGER,
    ("POST", "/admin/hours/services/{service_id}"): MANAGER,
    ("POST", "/admin/hours/branch"): MANAGER,
    ("GET", "/admin/counters"): MANAGER,
    ("POST", "/admin/counters"): MANAGER,
    ("POST", "/admin/counters/{counter_id}"): MANAGER,
    ("GET", "/admin/branch"): MANAGER,
    ("POST", "/admin/branch"): MANAGER,
    ("GET", "/admin/users"): ADMIN,
    ("POST", "/admin/users"): ADMIN,
    ("POST", "/admin/users/{user_id}"): ADMIN,
    ("GET", "/admin/devices"): ADMIN,
    ("POST", "/admin/devices"): ADMIN,
    ("POST", "/admin/devices/{device_id}/rotate"): ADMIN,
    ("POST", "/admin/devices/{device_id}/pair"): ADMIN,
    ("POST", "/admin/devices/{device_id}/revoke"): ADMIN,
    ("POST", "/admin/devices/{device_id}/display"): ADMIN,
    # Web Push from the tracking page (issue 17): whoever holds the ticket's link.
    ("GET", "/api/v1/public/tickets/{tracking_token}/push"): EVERYONE,
    ("POST", "/api/v1/public/tickets/{tracking_token}/push"): EVERYONE,
    ("POST", "/api/v1/public/tickets/{tracking_token}/push/stop"): EVERYONE,
    ("GET", "/push/sw.js"): EVERYONE,
    ("GET", "/push/push.js"): EVERYONE,
    # Text messages from the tracking page (issue 17): whoever holds the ticket's link.
    ("GET", "/api/v1/public/tickets/{tracking_token}/sms"): EVERYONE,
    ("POST", "/api/v1/public/tickets/{tracking_token}/sms"): EVERYONE,
    ("POST", "/api/v1/public/tickets/{tracking_token}/sms/stop"): EVERYONE,
    ("POST", "/t/{tracking_token}/sms"): EVERYONE,
    ("POST", "/t/{tracking_token}/sms/stop"): EVERYONE,
    # Remote join (issue 17): public page; the join link and its QR code for the display board and managers.
    ("GET", "/join"): EVERYONE,
    ("GET", "/join/b/{branch_id}"): EVERYONE,
    ("GET", "/join/{service_id}"): EVERYONE,
    ("POST", "/join/{service_id}"): EVERYONE,
    ("POST", "/join/check-in"): EVERYONE,  # the phone's own ticket (its cookie) with the QR code's key
    ("GET", "/api/v1/join/link"): MANAGER | {"display"},
    ("GET", "/api/v1/join/qr.svg"): MANAGER | {"display"},
    ("GET", "/admin/join-poster"): MANAGER,
    ("GET", "/api/v1/services/{service_id}/remote"): MANAGER,
    ("PUT", "/api/v1/services/{service_id}/remote"): MANAGER,
    # Webhooks (issue 17): admin only.
    ("GET", "/api/v1/webhooks"): ADMIN,
    ("POST", "/api/v1/webhooks"): ADMIN,
    ("GET", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("POST", "/api/v1/webhooks/{webhook_id}/resume"): ADMIN,
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): ADMIN,
    ("GET", "/admin/webhooks"): ADMIN,
    ("POST", "/admin/webhooks"): ADMIN,
    ("POST", "/admin/webhooks/{endpoint_id}/resume"): ADMIN,
    ("POST", "/admin/webhooks/{endpoint_id}/on"): ADMIN,
    ("POST", "/admin/webhooks/{endpoint_id}/off"): ADMIN,
    ("POST", "/admin/webhooks/{endpoint_id}/delete"): ADMIN,
    ("GET", "/reports"): MANAGER,
    ("GET", "/reports/{kind}.csv"): MANAGER,
    ("GET", "/reports/ticket"): MANAGER,
    # Branches (issue 15): the picker, reports per branch and across branches, staff accounts' branches.
    ("POST", "/branch"): STAFF,
    ("GET", "/api/v1/reports/summary"): MANAGER,
    ("GET", "/api/v1/reports/{kind}.csv"): MANAGER,
    ("GET", "/api/v1/reports/branches"): ADMIN,  # head office
    ("GET", "/api/v1/reports/branches.csv"): ADMIN,
    ("GET", "/api/v1/users/{user_id}/branches"): ADMIN,
    ("PUT", "/api/v1/users/{user_id}/branches"): ADMIN,
    ("PUT", "/api/v1/users/{user_id}/branches/{branch_id}"): ADMIN,
    ("DELETE", "/api/v1/users/{user_id}/branches/{branch_id}"): ADMIN,
    ("GET", "/admin/users/{user_id}/branches"): ADMIN,
    ("POST", "/admin/users/{user_id}/branches"): ADMIN,
    ("POST", "/admin/users/{user_id}/branches/{branch_id}/remove"): ADMIN,
}

STATIC_FILE = {
    "/static/vendor": "/swagger-ui/swagger-ui.css",
    "/static/docs": "/swagger-init.js",
}
CSRF = "csrf-for-tests"


@pytest.fixture
def backend() -> str:
    return "sqlite"  # who may do what does not depend on the database


def app_routes(routes: list[BaseRoute]) -> Iterator[tuple[str, str]]:
    """(method, path) of every route the app serves, mounts as ("MOUNT", prefix), WebSockets as ("WS", path)."""
    for route in routes:
        if isinstance(route, _IncludedRouter):
            for ctx in route.effective_route_contexts():
                yield from _entries(ctx.starlette_route or ctx.original_route, ctx.path)
        else:
            yield from _entries(route, getattr(route, "path", ""))


def _entries(route: Any, path: str) -> Iterator[tuple[str, str]]:
    path = path or getattr(route, "path", "")
    if isinstance(route, Mount):
        yield "MOUNT", path
    elif getattr(route, "methods", None):
        for method in sorted(route.methods - {"HEAD"}):
            yield method, path
    else:
        yield "WS", path


def test_every_route_has_an_access_rule(api: Api) -> None:
    served = set(app_routes(api.client.app.routes))  # type: ignore[attr-defined]
    missing = sorted(served - ACCESS.keys())
    assert not missing, f"routes without an entry in ACCESS (decide who may call them): {missing}"
    stale = sorted(ACCESS.keys() - served)
    assert not stale, f"ACCESS names routes that no longer exist: {stale}"


class Caller:
    """Builds one request per route for one role, on targets made fresh for it."""

    def __init__(self, api: Api, role: str) -> None:
        self.api, self.role = api, role
        settings = api.client.app.state.settings  # type: ignore[attr-defined]
        self.db: Database = api.client.app.state.db  # type: ignore[attr-defined]
        self.secret = settings.effective_secret_key
        self._targets: dict[str, Any] | None = None

    def headers(self) -> dict[str, str]:
        if self.role == "anonymous":
            return {"X-Requested-With": "wins-display"}
        headers = {"Authorization": f"Bearer {self.api.data.tokens[self.role]}", "X-Requested-With": "wins-display"}
        cookies = []
        if self.role in DESK:
            with self.db.session(write=False) as session:
                user = session.get(StaffUser, self.api.data.users[self.role])
                assert user is not None
                version = user.token_version
                # Fresh each time: a sign-out route called earlier in the table ended the account's sign-ins.
                headers["Authorization"] = f"Bearer {issue_token(user, secret_key=self.secret)}"
            payload = {"sid": self.api.data.users[self.role], "v": version, "csrf": CSRF}
            cookies.append(f"wins_session={sign(self.secret, 'web-session', payload)}")
            headers["X-CSRF-Token"] = CSRF
        if self.role == "display":
            cookies.append(f"wins_display={self.api.data.tokens['display']}")
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        return headers

    def targets(self) -> dict[str, Any]:
        if self._targets is None:
            self._targets = self._make_targets()
        return self._targets

    def _make_targets(self) -> dict[str, Any]:
        ticket = self.api.issue("A")  # issued by the kiosk, so the kiosk may read it
        with self.db.session() as session:
            device, _ = create_device(
                session, name=f"spare-{secrets.token_hex(3)}", kind=DeviceKind.display, actor=None
            )
            user = StaffUser(username=f"spare-{secrets.token_hex(3)}", password_hash=password_hash(), role=Role.staff)
            session.add(user)
            session.flush()
            ids = {"device_id": device.id, "user_id": user.id}
        return {
            "ticket_id": ticket["id"],
            "tracking_token": ticket["tracking_token"],
            "counter_id": self.api.data.counters["2"],
            "branch_id": 1,
            "service_id": self.api.data.services["C"],
            "action": "recall",
            "kind": "tickets",
            "lang": "en",
            "number": "A001",
            "counter": "1",
            "webhook_id": 999_999,  # no such webhook: a 404 past the door is "allowed"
            "endpoint_id": 999_999,
            **ids,
        }

    def request(self, method: str, path: str) -> tuple[int, str]:
        client = self.api.client
        client.cookies.clear()
        url = path.format(**self.targets())
        headers = self.headers()
        kwargs: dict[str, Any] = {}
        if method == "MOUNT":
            method, url = "GET", path + STATIC_FILE.get(path, "/nothing-here.css")
        elif (method, path) == ("POST", "/api/v1/auth/token"):
            kwargs["data"] = {"username": "staff2", "password": PASSWORD}
        elif (method, path) == ("POST", "/login"):
            headers["Cookie"] = "; ".join(filter(None, [headers.get("Cookie"), f"wins_login_csrf={CSRF}"]))
            kwargs["data"] = {"username": "staff2", "password": PASSWORD, "csrf_token": CSRF}
        elif method in ("POST", "PATCH", "PUT") and path.startswith("/api/"):
            kwargs["json"] = API_BODIES.get(path, {})
        elif method == "POST":
            kwargs["data"] = {"csrf_token": CSRF}
        if url.startswith(("/api/v1/events", "/api/v1/public/tickets/")) and url.endswith(("events", "updates")):
            url += "?timeout=0"
        r = client.request(method, url, headers=headers, follow_redirects=False, **kwargs)
        return r.status_code, r.headers.get("location", "")


API_BODIES: dict[str, Any] = {
    "/api/v1/users": {"username": "u" + secrets.token_hex(3), "password": "long-enough-1"},
    "/api/v1/users/{user_id}": {"full_name": "Spare"},
    "/api/v1/users/{user_id}/branches/{branch_id}": {"role": "staff"},
    "/api/v1/branch": {"name": "Renamed"},
    "/api/v1/branches": {"name": "Second", "timezone": "UTC"},
    "/api/v1/branches/{branch_id}": {"name": "Renamed"},
    "/api/v1/services": {"name": "New", "prefix": "N"},
    "/api/v1/services/{service_id}": {"colour": "#000000"},
    "/api/v1/counters": {"name": "new", "service_ids": []},
    "/api/v1/counters/{counter_id}": {"name": "Two"},
    "/api/v1/tickets": {"service_id": 1},
    "/api/v1/tickets/{ticket_id}/transfer": {"service_id": 2},
    "/api/v1/counters/{counter_id}/pause": {"reason": "break"},
    "/api/v1/auth/me/preferences": {"shortcuts_enabled": True},
    "/api/v1/devices": {"name": "tv", "kind": "display"},
    "/api/v1/devices/{device_id}": {"name": "tv"},
    "/api/v1/devices/me/status": {"status": {"printer": "ok"}},
}


SIGN_OUT = {("GET", "/logout"), ("POST", "/logout"), ("POST", "/api/v1/auth/logout")}


def refused(status: int, location: str) -> bool:
    return status in (401, 403) or (status in (302, 303, 307) and location.startswith("/login"))


@pytest.mark.parametrize("role", ROLES)
def test_route_role_table(api: Api, role: str) -> None:
    caller = Caller(api, role)
    wrong = []
    for method, path in sorted(ACCESS):
        if method == "WS":
            continue
        status, location = caller.request(method, path)
        allowed = role in ACCESS[method, path]
        if (method, path) in SIGN_OUT:  # signing out answers with the sign-in page for everyone
            was_refused = status in (401, 403)
        else:
            was_refused = refused(status, location)
        if allowed == was_refused or status >= 500:
            wrong.append(f"{method} {path}: {status} {location} (expected {'allowed' if allowed else 'refused'})")
    assert not wrong, f"role {role}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_event_socket_roles(api: Api, role: str) -> None:
    url = "/api/v1/events/ws"
    headers = {} if role == "anonymous" else {"Authorization": f"Bearer {api.data.tokens[role]}"}
    if role not in ACCESS["WS", "/api/v1/events/ws"]:
        with pytest.raises(WebSocketDisconnect) as closed, api.client.websocket_connect(url, headers=headers) as ws:
            ws.receive_text()
        assert closed.value.code == 4401
        return
    with api.client.websocket_connect(url, headers=headers) as ws:
        assert '"hello"' in ws.receive_text()
