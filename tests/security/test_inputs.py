"""No input answers 500 (issue 11): body sizes, deep JSON, lone surrogates and U+0000, huge ids and numbers,
dates at the ends of the calendar. Each case once on SQLite and PostgreSQL (PostgreSQL refuses U+0000 and lone
surrogates in text, and its id columns are 32-bit)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Api
from tests.security.forms import FormSession
from wins.bodylimit import DEFAULT_LIMIT, ISSUE_LIMIT, KIB, LOGO_LIMIT

JSON = {"Content-Type": "application/json"}


def events(api: Api) -> int:
    r = api.client.get("/api/v1/events", params={"since": 0, "timeout": 0}, headers=api.auth("manager"))
    return len(r.json()["events"])


def chunked(body: bytes, size: int = 1000) -> Iterator[bytes]:
    """A body without Content-Length (sent in chunks), so only counting it as it streams can stop it."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


# -- body size ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_a_big_device_status_is_refused_before_it_reaches_anyone(api: Api, streamed: bool) -> None:
    before = events(api)
    body = json.dumps({"status": {"printer_message": "x" * 5_000_000}}).encode()
    r = api.client.post(
        "/api/v1/devices/me/status", content=chunked(body) if streamed else body, headers={**api.auth("kiosk"), **JSON}
    )
    assert r.status_code == 413
    assert r.json() == {"detail": "The request body is too large: this address takes at most 4 KiB.",
                        "code": "body_too_large"}  # fmt: skip
    assert events(api) == before  # nothing was broadcast to the staff screens


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_every_json_body_and_form_has_the_limit(api: Api, signed_in: Any, streamed: bool) -> None:
    big = json.dumps({"name": "x" * DEFAULT_LIMIT, "prefix": "Q"}).encode()
    r = api.client.post("/api/v1/services", content=chunked(big) if streamed else big, headers={**api.auth("manager"),
                        **JSON})  # fmt: skip
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"
    manager: FormSession = signed_in("manager")
    form = f"csrf_token={manager.csrf}&name={'x' * DEFAULT_LIMIT}&prefix=Q".encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    r = manager.client.post("/admin/services", content=chunked(form) if streamed else form, headers=headers)
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/plain")
    assert r.text == f"The request body is too large: this address takes at most {DEFAULT_LIMIT // KIB} KiB."
    r = manager.client.post("/login", content=chunked(form) if streamed else form, headers=headers)
    assert r.status_code == 413
    names = [s["name"] for s in api.client.get("/api/v1/services", headers=api.auth("manager")).json()]
    assert "x" * 100 not in "".join(names)


def test_the_issue_path_has_the_express_lanes_limit(api: Api) -> None:
    service = api.data.services["A"]
    body = b'{"service_id": %d}' % service
    fits = body + b" " * (ISSUE_LIMIT - len(body))
    r = api.client.post("/api/v1/tickets", content=fits, headers={**api.auth("kiosk"), **JSON})
    assert r.status_code == 201, r.text
    r = api.client.post("/api/v1/tickets", content=fits + b" ", headers={**api.auth("kiosk"), **JSON})
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"


def test_only_the_branch_settings_take_a_logo_sized_body(api: Api) -> None:
    padding = " " * (LOGO_LIMIT - 2 * KIB)  # JSON whitespace: within the branch limit, over every other one
    body = ('{"settings": {"slip_text": "Big but fine"}' + padding + "}").encode()
    r = api.client.patch("/api/v1/branch", content=body, headers={**api.auth("manager"), **JSON})
    assert r.status_code == 200, r.text[:300]
    r = api.client.patch("/api/v1/devices/1", content=body, headers={**api.auth("admin"), **JSON})
    assert r.status_code == 413


# -- hostile JSON ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [500, 990, 1000, 1500])
def test_deeply_nested_json_is_a_clean_4xx(api: Api, depth: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    body = ('{"service_id": ' + "[" * depth + "]" * depth + "}").encode()
    for who in ("kiosk", "kiosk"):  # the second time the kiosk's token is cached: the express lane reads it
        r = api.client.post("/api/v1/tickets", content=body, headers={**api.auth(who), **JSON})
        assert r.status_code in (400, 413, 422), r.text
        assert r.json()["code"] and r.json()["detail"]
    settings = ('{"settings": {"kiosk_languages": ' + "[" * depth + "]" * depth + "}}").encode()
    r = api.client.patch("/api/v1/branch", content=settings, headers={**api.auth("manager"), **JSON})
    assert r.status_code in (400, 413, 422), r.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("method", "path", "body", "who"),
    [
        ("POST", "/api/v1/devices/me/status", {"status": {"printer": "\ud800"}}, "kiosk"),
        ("POST", "/api/v1/devices/me/status", {"status": {"printer_message": "\ud800"}}, "kiosk"),
        ("POST", "/api/v1/devices/me/status", {"status": {"printer_message": "\u0000"}}, "kiosk"),
        ("PATCH", "/api/v1/branch", {"settings": {"slip_text": "\ud800"}}, "manager"),
        ("PATCH", "/api/v1/branch", {"settings": {"slip_text": "a\u0000"}}, "manager"),
        ("PATCH", "/api/v1/branch", {"name": "\udfff"}, "manager"),
        ("PATCH", "/api/v1/branch", {"name": "nul\u0000"}, "manager"),
        ("PATCH", "/api/v1/branch", {"timezone": "Europe/\u0000Paris"}, "manager"),
        ("POST", "/api/v1/services", {"name": "S\u0000", "prefix": "Q"}, "manager"),
        ("POST", "/api/v1/counters", {"name": "\ud800", "service_ids": []}, "manager"),
        ("POST", "/api/v1/counters", {"name": "C", "service_ids": [2**70]}, "manager"),
        ("POST", "/api/v1/counters", {"name": "C", "service_ids": [2**31]}, "manager"),
        ("PATCH", "/api/v1/counters/1", {"service_ids": [-(2**63)]}, "manager"),
        ("POST", "/api/v1/users", {"username": "nul\u0000", "password": "long-enough-pw"}, "admin"),
        ("POST", "/api/v1/users", {"username": "nina", "password": "long-enough-pw", "full_name": "\ud800"}, "admin"),
        ("POST", "/api/v1/devices", {"name": "K\u0000", "kind": "kiosk"}, "admin"),
        ("PATCH", "/api/v1/devices/1", {"config": {"title": "T\u0000"}}, "admin"),
    ],
)
def test_text_the_database_cannot_store_is_refused(api: Api, method: str, path: str, body: Any, who: str) -> None:
    headers = {**api.auth(who), **JSON}
    r = api.client.request(method, path, content=json.dumps(body), headers=headers)  # "\ud800" stays an escape
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_input"
    assert api.client.get("/api/v1/branch", headers=api.auth("manager")).status_code == 200


# -- web forms and query strings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/admin/services/{id}",
        "/admin/services/{id}/remote",
        "/admin/counters/{id}",
        "/admin/users/{id}",
        "/admin/devices/{id}/rotate",
        "/admin/devices/{id}/display",
        "/admin/devices/{id}/revoke",
    ],
)
@pytest.mark.parametrize("bad_id", [2**63, 2**64, 10**30, -(2**63) - 1, "1e3", "²"])
def test_admin_routes_take_only_ids_that_can_exist(api: Api, signed_in: Any, path: str, bad_id: Any) -> None:
    admin: FormSession = signed_in("admin")
    r = admin.post(path.format(id=bad_id), {"name": "x", "prefix": "X"})
    assert r.status_code in (404, 422), r.text[:300]
    assert r.headers["content-type"].startswith("text/html")  # a page, for people
    assert "Something went wrong" not in r.text


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"history": "²"}, "Recent calls shown must be a whole number."),
        ({"history": "9" * 5000}, "Recent calls shown must be a whole number."),
        ({"history": "99"}, "less than or equal to 12"),
        ({"history": "٣"}, "Recent calls shown must be a whole number."),
        ({"services": "²"}, "A service id must be a whole number."),
        ({"services": "9" * 12}, "less than or equal to 2147483647"),
        ({"counters": "99999"}, "Counter 99999 does not exist"),
        ({"layout": "mosaic"}, "layout: Input should be"),
        ({"title": "\u0000"}, "control characters"),
    ],
)
def test_display_form_refuses_bad_numbers_with_the_reason(
    api: Api, signed_in: Any, fields: dict[str, Any], words: str
) -> None:
    devices = api.client.get("/api/v1/devices", headers=api.auth("admin")).json()
    display = next(d["id"] for d in devices if d["kind"] == "display")
    admin: FormSession = signed_in("admin")
    r = admin.post(f"/admin/devices/{display}/display", {"layout": "calls", **fields})
    assert r.status_code == 422 and words in r.text, r.text[-2000:]


@pytest.mark.parametrize(
    ("path", "fields", "words"),
    [
        ("/admin/services", {"name": "Q", "prefix": "Q", "priority_weight": "9" * 30}, "whole number"),
        ("/admin/services", {"name": "Q", "prefix": "Q", "priority_weight": "+-5"}, "whole number"),
        ("/admin/services", {"name": "Q", "prefix": "Q", "sort_order": "1_000"}, "whole number"),
        ("/admin/services", {"name": "Q", "prefix": "Q", "priority_weight": "1000"}, "less than or equal to 100"),
        ("/admin/services", {"name": "Q\u0000", "prefix": "Q"}, "control characters"),
        ("/admin/counters", {"name": "Z", "order_1": "9" * 30}, "whole number"),
        ("/admin/counters", {"name": "Z\u0000"}, "control characters"),
        ("/admin/branch", {"name": "B\u0000", "timezone": "UTC", "kiosk_languages": "en"}, "control characters"),
        (
            "/admin/branch",
            {"name": "B", "timezone": "UTC", "kiosk_languages": "en", "slip_text": "s" * 501},
            "at most 500",
        ),  # fmt: skip
        (
            "/admin/branch",
            {"name": "B", "timezone": "UTC", "kiosk_languages": "en", "day_rollover_hour": "²"},
            "whole number",
        ),  # fmt: skip
        ("/admin/users", {"username": "nul\u0000", "password": "long-enough-pw", "role": "staff"}, "control"),
    ],
)
def test_forms_refuse_what_the_api_refuses(
    api: Api, signed_in: Any, path: str, fields: dict[str, Any], words: str
) -> None:
    admin: FormSession = signed_in("admin")
    r = admin.post(path, fields)
    assert r.status_code == 422 and words in r.text, r.text[-2000:]


@pytest.mark.parametrize("first", ["0001-01-01", "9999-12-31", "1969-12-31", "9999-12-02"])
@pytest.mark.parametrize("path", ["/reports", "/reports/tickets.csv", "/reports/hourly.csv"])
def test_report_dates_at_the_ends_of_the_calendar(api: Api, signed_in: Any, path: str, first: str) -> None:
    manager: FormSession = signed_in("manager")
    r = manager.client.get(path, params={"first": first, "last": first})
    assert r.status_code == 422 and "Reports cover days from 1970-01-01 to 9999-12-01" in r.text
    r = manager.client.get(path, params={"first": first})
    assert r.status_code == 422
    for edge in ("1970-01-01", "9999-12-01"):
        assert manager.client.get(path, params={"first": edge, "last": edge}).status_code == 200


def test_a_forged_non_ascii_csrf_token_is_refused_not_a_crash(api: Api, signed_in: Any) -> None:
    admin: FormSession = signed_in("admin")
    r = admin.client.post("/admin/services", data={"csrf_token": "é" * 32, "name": "Q", "prefix": "Q"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = admin.client.post("/login", data={"csrf_token": "ü", "username": "admin", "password": "x"})
    assert r.status_code == 403
