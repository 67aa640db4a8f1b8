# ruff: noqa: E501  (JavaScript test snippets read better on one line each)
"""Writes postman/wins.postman_collection.json (the collection is generated: edit this file, then run
`python postman/build.py`; tests/deploy checks the JSON is up to date).

The collection runs top to bottom against any WINS server whose environment gives `baseUrl`, `username` and
`password` (an admin account). It creates its own service, counter, staff user and kiosk with unique names,
drives a ticket through its whole life, checks that refused requests are refused with the right status
(401/403/404/409/422), and switches off what it created at the end.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
OUT = HERE / "wins.postman_collection.json"

ERROR_SHAPE = """
if (pm.response.code >= 400) {
  pm.test("error body has detail and code", () => {
    const b = pm.response.json();
    pm.expect(b).to.have.property("detail");
    pm.expect(b).to.have.property("code").that.is.a("string");
  });
}
"""


def js(*lines: str) -> list[str]:
    return "\n".join(lines).strip().split("\n")


def request(
    name: str,
    method: str,
    path: str,
    *,
    status: int,
    auth: str | None = "adminToken",
    body: Any = None,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    tests: str = "",
    pre: str | list[str] = "",
) -> dict[str, Any]:
    header = [{"key": k, "value": v} for k, v in (headers or {}).items()]
    if auth:
        header.append({"key": "Authorization", "value": f"Bearer {{{{{auth}}}}}"})
    item: dict[str, Any] = {
        "name": name,
        "request": {"method": method, "header": header, "url": "{{baseUrl}}" + path},
        "event": [
            {
                "listen": "test",
                "script": {
                    "type": "text/javascript",
                    "exec": js(f'pm.test("status is {status}", () => pm.response.to.have.status({status}));', tests),
                },
            }
        ],
    }
    if pre:
        item["event"].insert(0, {"listen": "prerequest", "script": {"type": "text/javascript", "exec": pre if isinstance(pre, list) else js(pre)}})
    if body is not None:
        header.append({"key": "Content-Type", "value": "application/json"})
        raw = body if isinstance(body, str) else json.dumps(body)
        item["request"]["body"] = {"mode": "raw", "raw": raw}
    if form is not None:
        item["request"]["body"] = {
            "mode": "urlencoded",
            "urlencoded": [{"key": k, "value": v, "type": "text"} for k, v in form.items()],
        }
    return item


def folder(name: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "item": list(items)}


def keys(*names: str) -> str:
    return f'pm.test("body shape", () => pm.expect(pm.response.json()).to.include.all.keys({json.dumps(list(names))[1:-1]}));'


TICKET_KEYS = keys("id", "number", "status", "service_id", "position", "tracking_token", "tracking_url", "call_count")
STAFF_KEYS = keys("id", "username", "full_name", "role", "active")
SERVICE_KEYS = keys("id", "name", "prefix", "colour", "active", "priority_weight", "sort_order")
COUNTER_KEYS = keys("id", "name", "active", "service_ids", "is_open", "staff_id")
DEVICE_KEYS = keys("id", "name", "kind", "token_hint", "revoked", "status", "config")


def status_is(value: str) -> str:
    return f'pm.test("ticket is {value}", () => pm.expect(pm.response.json().status).to.eql("{value}"));'


def save(var: str, expr: str) -> str:
    return f'pm.collectionVariables.set("{var}", {expr});'


def build() -> dict[str, Any]:
    items = [
        folder(
            "Health",
            request(
                "health",
                "GET",
                "/health",
                status=200,
                auth=None,
                tests=keys("status", "database", "database_ok", "version", "last_event_id")
                + '\npm.test("ok", () => pm.expect(pm.response.json().status).to.eql("ok"));',
            ),
        ),
        folder(
            "Sign in",
            request(
                "token: wrong password is refused",
                "POST",
                "/api/v1/auth/token",
                status=401,
                auth=None,
                form={"username": "{{username}}", "password": "wrong-{{password}}"},
            ),
            request(
                "token: missing fields are invalid",
                "POST",
                "/api/v1/auth/token",
                status=422,
                auth=None,
                form={"username": "{{username}}"},
            ),
            request(
                "token: admin signs in",
                "POST",
                "/api/v1/auth/token",
                status=200,
                auth=None,
                form={"username": "{{username}}", "password": "{{password}}"},
                tests=keys("access_token", "token_type", "expires_in", "role", "username")
                + "\n"
                + save("adminToken", "pm.response.json().access_token")
                + '\npm.test("admin role", () => pm.expect(pm.response.json().role).to.eql("admin"));',
                pre=js(
                    "const t = Date.now().toString(36).toUpperCase();",
                    'pm.collectionVariables.set("run", t.slice(-6));',
                    "const L = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';",
                    "let p = ''; for (let i = 0; i < 3; i++) p += L[Math.floor(Math.random() * 26)];",
                    'pm.collectionVariables.set("prefix", p);',
                    'pm.collectionVariables.set("staffPassword", "pm-" + t + "-secret");',
                ),
            ),
            request("me: without a token", "GET", "/api/v1/auth/me", status=401, auth=None),
            request("me: with a bad token", "GET", "/api/v1/auth/me", status=401, auth="run"),
            request(
                "me",
                "GET",
                "/api/v1/auth/me",
                status=200,
                tests=STAFF_KEYS
                + '\npm.test("it is me", () => pm.expect(pm.response.json().username).to.eql(pm.environment.get("username") || pm.variables.get("username")));',
            ),
        ),
        folder(
            "Users",
            request(
                "list users",
                "GET",
                "/api/v1/users",
                status=200,
                tests='pm.test("array of users", () => { const b = pm.response.json(); pm.expect(b).to.be.an("array").that.is.not.empty; pm.expect(b[0]).to.include.all.keys("id", "username", "role"); });',
            ),
            request(
                "create a staff user",
                "POST",
                "/api/v1/users",
                status=201,
                body='{"username": "pm-{{run}}", "password": "{{staffPassword}}", "role": "staff", "full_name": "Postman {{run}}"}',
                tests=STAFF_KEYS + "\n" + save("staffUserId", "pm.response.json().id"),
            ),
            request(
                "create: taken username",
                "POST",
                "/api/v1/users",
                status=409,
                body='{"username": "pm-{{run}}", "password": "{{staffPassword}}"}',
            ),
            request(
                "create: short password",
                "POST",
                "/api/v1/users",
                status=422,
                body='{"username": "pm2-{{run}}", "password": "short"}',
            ),
            request(
                "update user",
                "PATCH",
                "/api/v1/users/{{staffUserId}}",
                status=200,
                body={"full_name": "Postman Staff"},
                tests=STAFF_KEYS
                + '\npm.test("renamed", () => pm.expect(pm.response.json().full_name).to.eql("Postman Staff"));',
            ),
            request("update: unknown user", "PATCH", "/api/v1/users/2000000000", status=404, body={"full_name": "x"}),
            request(
                "staff signs in",
                "POST",
                "/api/v1/auth/token",
                status=200,
                auth=None,
                form={"username": "pm-{{run}}", "password": "{{staffPassword}}"},
                tests=save("staffToken", "pm.response.json().access_token"),
            ),
            request("list users: staff is refused", "GET", "/api/v1/users", status=403, auth="staffToken"),
        ),
        folder(
            "Branch",
            request(
                "get branch",
                "GET",
                "/api/v1/branch",
                status=200,
                tests=keys("id", "name", "timezone", "day_rollover_hour", "settings")
                + "\n"
                + save("branchName", "pm.response.json().name"),
            ),
            request(
                "update: staff is refused",
                "PATCH",
                "/api/v1/branch",
                status=403,
                auth="staffToken",
                body='{"name": "{{branchName}}"}',
            ),
            request("update: bad hour", "PATCH", "/api/v1/branch", status=422, body={"day_rollover_hour": 25}),
            request(
                "update: unknown field",
                "PATCH",
                "/api/v1/branch",
                status=422,
                body={"colour": "red"},
            ),
            request(
                "update: a file printer is refused",
                "PATCH",
                "/api/v1/branch",
                status=422,
                body={"settings": {"printer_url": "file:///var/lib/wins/wins.db"}},
                tests='pm.test("says why", () => pm.expect(pm.response.text()).to.include("WINS_PRINTER_URL"));',
            ),
            request(
                "update branch (same name)",
                "PATCH",
                "/api/v1/branch",
                status=200,
                body='{"name": "{{branchName}}"}',
                tests='pm.test("name kept", () => pm.expect(pm.response.json().name).to.eql(pm.collectionVariables.get("branchName")));',
            ),
        ),
        folder(
            "Services",
            request(
                "list services",
                "GET",
                "/api/v1/services",
                status=200,
                tests='pm.test("array", () => pm.expect(pm.response.json()).to.be.an("array"));'
                + "\n"
                + 'const other = pm.response.json().find(s => s.active); if (other) { pm.collectionVariables.set("otherServiceId", other.id); }',
            ),
            request(
                "create a service",
                "POST",
                "/api/v1/services",
                status=201,
                body='{"name": "Postman {{run}}", "prefix": "{{prefix}}", "colour": "#123456"}',
                tests=SERVICE_KEYS + "\n" + save("serviceId", "pm.response.json().id"),
            ),
            request(
                "create a second service",
                "POST",
                "/api/v1/services",
                status=201,
                pre=js(
                    "const p = pm.collectionVariables.get('prefix');",
                    "const next = String.fromCharCode((p.charCodeAt(0) - 65 + 1) % 26 + 65) + p.slice(1);",
                    "pm.collectionVariables.set('prefix2', next);",
                ),
                body='{"name": "Postman {{run}} bis", "prefix": "{{prefix2}}"}',
                tests=SERVICE_KEYS + "\n" + save("service2Id", "pm.response.json().id"),
            ),
            request(
                "create: prefix taken",
                "POST",
                "/api/v1/services",
                status=409,
                body='{"name": "Clash {{run}}", "prefix": "{{prefix}}"}',
            ),
            request(
                "create: bad colour",
                "POST",
                "/api/v1/services",
                status=422,
                body='{"name": "Bad {{run}}", "prefix": "Q", "colour": "red"}',
            ),
            request(
                "create: staff is refused",
                "POST",
                "/api/v1/services",
                status=403,
                auth="staffToken",
                body='{"name": "Nope {{run}}", "prefix": "Q"}',
            ),
            request(
                "update service",
                "PATCH",
                "/api/v1/services/{{serviceId}}",
                status=200,
                body={"priority_weight": 5},
                tests=SERVICE_KEYS
                + '\npm.test("weight set", () => pm.expect(pm.response.json().priority_weight).to.eql(5));',
            ),
            request("update: unknown service", "PATCH", "/api/v1/services/2000000000", status=404, body={"name": "x"}),
        ),
        folder(
            "Counters",
            request(
                "list counters",
                "GET",
                "/api/v1/counters",
                status=200,
                tests='pm.test("array", () => pm.expect(pm.response.json()).to.be.an("array"));',
            ),
            request(
                "create a counter",
                "POST",
                "/api/v1/counters",
                status=201,
                body='{"name": "PM {{run}}", "service_ids": [{{serviceId}}]}',
                tests=COUNTER_KEYS + "\n" + save("counterId", "pm.response.json().id"),
            ),
            request(
                "create: name taken",
                "POST",
                "/api/v1/counters",
                status=409,
                body='{"name": "PM {{run}}", "service_ids": [{{serviceId}}]}',
            ),
            request(
                "create: unknown service",
                "POST",
                "/api/v1/counters",
                status=422,
                body='{"name": "PM2 {{run}}", "service_ids": [2000000000]}',
            ),
            request(
                "create: staff is refused",
                "POST",
                "/api/v1/counters",
                status=403,
                auth="staffToken",
                body='{"name": "PM3 {{run}}"}',
            ),
            request(
                "update counter",
                "PATCH",
                "/api/v1/counters/{{counterId}}",
                status=200,
                body='{"service_ids": [{{serviceId}}, {{service2Id}}]}',
                tests=COUNTER_KEYS
                + '\npm.test("two services", () => pm.expect(pm.response.json().service_ids).to.have.length(2));',
            ),
            request("update: unknown counter", "PATCH", "/api/v1/counters/2000000000", status=404, body={"name": "x"}),
            request(
                "open counter (staff)",
                "POST",
                "/api/v1/counters/{{counterId}}/open",
                status=200,
                auth="staffToken",
                tests=COUNTER_KEYS + '\npm.test("open", () => pm.expect(pm.response.json().is_open).to.be.true);',
            ),
            request(
                "call next: nobody waits",
                "POST",
                "/api/v1/counters/{{counterId}}/call-next",
                status=204,
                auth="staffToken",
            ),
        ),
        folder(
            "Tickets",
            request(
                "issue: without a token",
                "POST",
                "/api/v1/tickets",
                status=401,
                auth=None,
                body='{"service_id": {{serviceId}}}',
            ),
            request("issue: bad body", "POST", "/api/v1/tickets", status=422, auth="staffToken", body={"service_id": 0}),
            request(
                "issue: unknown service",
                "POST",
                "/api/v1/tickets",
                status=404,
                auth="staffToken",
                body={"service_id": 2000000000},
            ),
            request(
                "issue a ticket (staff)",
                "POST",
                "/api/v1/tickets",
                status=201,
                auth="staffToken",
                headers={"Idempotency-Key": "pm-{{run}}-first"},
                body='{"service_id": {{serviceId}}}',
                tests=TICKET_KEYS
                + "\n"
                + status_is("waiting")
                + "\n"
                + save("ticketId", "pm.response.json().id")
                + "\n"
                + save("trackingToken", "pm.response.json().tracking_token")
                + '\npm.test("number has the prefix", () => pm.expect(pm.response.json().number.startsWith(pm.collectionVariables.get("prefix"))).to.be.true);',
            ),
            request(
                "issue: same Idempotency-Key gives the same ticket",
                "POST",
                "/api/v1/tickets",
                status=200,
                auth="staffToken",
                headers={"Idempotency-Key": "pm-{{run}}-first"},
                body='{"service_id": {{serviceId}}}',
                tests='pm.test("same id", () => pm.expect(pm.response.json().id).to.eql(pm.collectionVariables.get("ticketId")));',
            ),
            request(
                "issue: key reused for another service",
                "POST",
                "/api/v1/tickets",
                status=409,
                auth="staffToken",
                headers={"Idempotency-Key": "pm-{{run}}-first"},
                body='{"service_id": {{service2Id}}}',
            ),
            request("get ticket", "GET", "/api/v1/tickets/{{ticketId}}", status=200, tests=TICKET_KEYS),
            request("get: unknown ticket", "GET", "/api/v1/tickets/2000000000", status=404),
            request(
                "track (public, no sign-in)",
                "GET",
                "/api/v1/public/tickets/{{trackingToken}}",
                status=200,
                auth=None,
                tests=keys("number", "status", "position", "people_ahead", "estimated_wait_seconds")
                + '\npm.test("no staff data", () => { const b = pm.response.json(); pm.expect(b).to.not.have.property("staff_id"); pm.expect(b).to.not.have.property("id"); });',
            ),
            request("track: unknown link", "GET", "/api/v1/public/tickets/not-a-real-token", status=404, auth=None),
            request(
                "call next",
                "POST",
                "/api/v1/counters/{{counterId}}/call-next",
                status=200,
                auth="staffToken",
                tests=TICKET_KEYS
                + "\n"
                + status_is("called")
                + '\npm.test("our ticket", () => pm.expect(pm.response.json().id).to.eql(pm.collectionVariables.get("ticketId")));',
            ),
            request(
                "recall",
                "POST",
                "/api/v1/tickets/{{ticketId}}/recall",
                status=200,
                auth="staffToken",
                tests='pm.test("called twice", () => pm.expect(pm.response.json().call_count).to.eql(2));',
            ),
            request(
                "start serving",
                "POST",
                "/api/v1/tickets/{{ticketId}}/start",
                status=200,
                auth="staffToken",
                tests=status_is("serving"),
            ),
            request(
                "complete",
                "POST",
                "/api/v1/tickets/{{ticketId}}/complete",
                status=200,
                auth="staffToken",
                tests=status_is("done"),
            ),
            request(
                "complete again is refused",
                "POST",
                "/api/v1/tickets/{{ticketId}}/complete",
                status=409,
                auth="staffToken",
            ),
            request("unknown action", "POST", "/api/v1/tickets/{{ticketId}}/explode", status=422, auth="staffToken"),
            request(
                "action: unknown ticket",
                "POST",
                "/api/v1/tickets/2000000000/recall",
                status=404,
                auth="staffToken",
            ),
            request(
                "issue a second ticket",
                "POST",
                "/api/v1/tickets",
                status=201,
                auth="staffToken",
                body='{"service_id": {{serviceId}}}',
                tests=save("ticket2Id", "pm.response.json().id")
                + "\n"
                + save("tracking2", "pm.response.json().tracking_token"),
            ),
            request(
                "transfer to the second service",
                "POST",
                "/api/v1/tickets/{{ticket2Id}}/transfer",
                status=200,
                auth="staffToken",
                body='{"service_id": {{service2Id}}}',
                tests=TICKET_KEYS
                + '\npm.test("moved", () => pm.expect(pm.response.json().service_id).to.eql(pm.collectionVariables.get("service2Id")));',
            ),
            request(
                "transfer: already there",
                "POST",
                "/api/v1/tickets/{{ticket2Id}}/transfer",
                status=409,
                auth="staffToken",
                body='{"service_id": {{service2Id}}}',
            ),
            request(
                "call a ticket out of order",
                "POST",
                "/api/v1/counters/{{counterId}}/call/{{ticket2Id}}",
                status=200,
                auth="staffToken",
                tests=status_is("called"),
            ),
            request(
                "requeue",
                "POST",
                "/api/v1/tickets/{{ticket2Id}}/requeue",
                status=200,
                auth="staffToken",
                tests=status_is("waiting"),
            ),
            request(
                "customer leaves the queue (public)",
                "POST",
                "/api/v1/public/tickets/{{tracking2}}/cancel",
                status=200,
                auth=None,
                tests=status_is("cancelled"),
            ),
            request(
                "leaving twice is harmless (a double tap)",
                "POST",
                "/api/v1/public/tickets/{{tracking2}}/cancel",
                status=200,
                auth=None,
                tests=status_is("cancelled"),
            ),
            request(
                "staff cannot cancel a cancelled ticket",
                "POST",
                "/api/v1/tickets/{{ticket2Id}}/cancel",
                status=409,
                auth="staffToken",
            ),
            request(
                "issue a ticket that will not show up",
                "POST",
                "/api/v1/tickets",
                status=201,
                auth="staffToken",
                body='{"service_id": {{serviceId}}}',
                tests=save("ticket4Id", "pm.response.json().id"),
            ),
            request(
                "call it out of order",
                "POST",
                "/api/v1/counters/{{counterId}}/call/{{ticket4Id}}",
                status=200,
                auth="staffToken",
                tests=status_is("called"),
            ),
            request(
                "no-show",
                "POST",
                "/api/v1/tickets/{{ticket4Id}}/no-show",
                status=200,
                auth="staffToken",
                tests=status_is("no_show"),
            ),
            request(
                "requeue a no-show is refused",
                "POST",
                "/api/v1/tickets/{{ticket4Id}}/requeue",
                status=409,
                auth="staffToken",
            ),
            request(
                "issue a third ticket and cancel it (staff)",
                "POST",
                "/api/v1/tickets",
                status=201,
                auth="staffToken",
                body='{"service_id": {{serviceId}}}',
                tests=save("ticket3Id", "pm.response.json().id"),
            ),
            request(
                "cancel",
                "POST",
                "/api/v1/tickets/{{ticket3Id}}/cancel",
                status=200,
                auth="staffToken",
                tests=status_is("cancelled"),
            ),
        ),
        folder(
            "Queue and events",
            request(
                "queue snapshot",
                "GET",
                "/api/v1/queue",
                status=200,
                auth="staffToken",
                tests='pm.test("has last_event_id", () => pm.expect(pm.response.json()).to.have.property("last_event_id"));',
            ),
            request("queue: without a token", "GET", "/api/v1/queue", status=401, auth=None),
            request(
                "events (long-poll, no wait)",
                "GET",
                "/api/v1/events?since=0&timeout=0&limit=5",
                status=200,
                auth="staffToken",
                tests=keys("events", "last_id")
                + '\npm.test("events have ids and types", () => { const b = pm.response.json(); pm.expect(b.events).to.be.an("array").that.is.not.empty; pm.expect(b.events[0]).to.include.all.keys("id", "type", "at", "data"); });',
            ),
            request("events: timeout too long", "GET", "/api/v1/events?timeout=999", status=422, auth="staffToken"),
            request("events: without a token", "GET", "/api/v1/events?timeout=0", status=401, auth=None),
        ),
        folder(
            "Devices",
            request(
                "list devices",
                "GET",
                "/api/v1/devices",
                status=200,
                tests='pm.test("array", () => pm.expect(pm.response.json()).to.be.an("array"));',
            ),
            request("list: staff is refused", "GET", "/api/v1/devices", status=403, auth="staffToken"),
            request(
                "create a kiosk",
                "POST",
                "/api/v1/devices",
                status=201,
                body='{"name": "PM kiosk {{run}}", "kind": "kiosk"}',
                tests=DEVICE_KEYS
                + "\n"
                + save("deviceId", "pm.response.json().id")
                + "\n"
                + save("kioskToken", "pm.response.json().token"),
            ),
            request("create: bad kind", "POST", "/api/v1/devices", status=422, body={"name": "x", "kind": "toaster"}),
            request(
                "update device",
                "PATCH",
                "/api/v1/devices/{{deviceId}}",
                status=200,
                body={"config": {"languages": ["en"]}},
                tests=DEVICE_KEYS
                + '\npm.test("config kept", () => pm.expect(pm.response.json().config.languages).to.eql(["en"]));',
            ),
            request(
                "update: unknown config key refused",
                "PATCH",
                "/api/v1/devices/{{deviceId}}",
                status=422,
                body={"config": {"logo_path": "/etc/passwd"}},
            ),
            request("update: unknown device", "PATCH", "/api/v1/devices/2000000000", status=404, body={"name": "x"}),
            request(
                "this device (kiosk token)",
                "GET",
                "/api/v1/devices/me",
                status=200,
                auth="kioskToken",
                tests=DEVICE_KEYS + '\npm.test("kiosk", () => pm.expect(pm.response.json().kind).to.eql("kiosk"));',
            ),
            request("this device: staff is refused", "GET", "/api/v1/devices/me", status=403, auth="staffToken"),
            request(
                "report status",
                "POST",
                "/api/v1/devices/me/status",
                status=200,
                auth="kioskToken",
                body={"status": {"printer": "ok"}},
                tests='pm.test("status stored", () => pm.expect(pm.response.json().status.printer).to.eql("ok"));',
            ),
            request(
                "kiosk issues a ticket",
                "POST",
                "/api/v1/tickets",
                status=201,
                auth="kioskToken",
                body='{"service_id": {{serviceId}}, "language": "en"}',
                tests=TICKET_KEYS + "\n" + save("kioskTicketId", "pm.response.json().id"),
            ),
            request(
                "kiosk: priority tickets are refused",
                "POST",
                "/api/v1/tickets",
                status=422,
                auth="kioskToken",
                body='{"service_id": {{serviceId}}, "priority": true}',
            ),
            request(
                "kiosk cannot call tickets",
                "POST",
                "/api/v1/counters/{{counterId}}/call-next",
                status=403,
                auth="kioskToken",
            ),
            request(
                "revoke the kiosk",
                "POST",
                "/api/v1/devices/{{deviceId}}/revoke",
                status=200,
                tests='pm.test("revoked", () => pm.expect(pm.response.json().revoked).to.be.true);',
            ),
            request(
                "revoked token is refused",
                "GET",
                "/api/v1/devices/me",
                status=401,
                auth="kioskToken",
                # Servers cache a token's owner for 5 s (PRINCIPAL_CACHE_SECONDS); wait that out.
                pre="setTimeout(() => {}, 5500);",
            ),
        ),
        folder(
            "Clean up",
            request(
                "cancel the kiosk's ticket",
                "POST",
                "/api/v1/tickets/{{kioskTicketId}}/cancel",
                status=200,
                auth="staffToken",
            ),
            request(
                "close counter",
                "POST",
                "/api/v1/counters/{{counterId}}/close",
                status=200,
                auth="staffToken",
                tests='pm.test("closed", () => pm.expect(pm.response.json().is_open).to.be.false);',
            ),
            request("switch the counter off", "PATCH", "/api/v1/counters/{{counterId}}", status=200, body={"active": False}),
            request(
                "call next on a switched-off counter is refused",
                "POST",
                "/api/v1/counters/{{counterId}}/call-next",
                status=409,
                auth="staffToken",
            ),
            request("switch the service off", "PATCH", "/api/v1/services/{{serviceId}}", status=200, body={"active": False}),
            request(
                "switch the second service off",
                "PATCH",
                "/api/v1/services/{{service2Id}}",
                status=200,
                body={"active": False},
            ),
            request(
                "issue for a switched-off service is refused",
                "POST",
                "/api/v1/tickets",
                status=409,
                auth="staffToken",
                body='{"service_id": {{serviceId}}}',
            ),
            request(
                "deactivate the staff user",
                "PATCH",
                "/api/v1/users/{{staffUserId}}",
                status=200,
                body={"active": False},
                tests='pm.test("inactive", () => pm.expect(pm.response.json().active).to.be.false);',
            ),
            request(
                "deactivated user cannot sign in",
                "POST",
                "/api/v1/auth/token",
                status=401,
                auth=None,
                form={"username": "pm-{{run}}", "password": "{{staffPassword}}"},
            ),
        ),
    ]
    return {
        "info": {
            "name": "WINS API",
            "description": (__doc__ or "").strip(),
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": js(ERROR_SHAPE)}}],
        "variable": [{"key": "run", "value": ""}],
        "item": items,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if OUT.read_text() == render() else 1)
    OUT.write_text(render())
