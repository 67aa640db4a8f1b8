"""Bad input gets a clear 4xx, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/api/v1/tickets/999999", {}, 404),
        ("POST", "/api/v1/tickets/999999/complete", {}, 404),
        ("POST", "/api/v1/counters/999999/call-next", {}, 404),
        ("POST", "/api/v1/tickets", {"json": {"service_id": 999999}}, 404),
        ("POST", "/api/v1/tickets", {"json": {"service_id": "abc"}}, 422),
        ("POST", "/api/v1/tickets", {"json": {}}, 422),
        ("POST", "/api/v1/tickets", {"json": {"service_id": 10**30}}, 422),
        ("POST", "/api/v1/tickets", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 422),
        ("POST", "/api/v1/tickets", {"content": b"service_id=1", "headers": {"content-type": "text/plain"}}, 422),
        ("POST", "/api/v1/tickets", {"json": {"service_id": 1, "surprise": True}}, 422),
        ("POST", "/api/v1/tickets/1/explode", {}, 422),
        ("GET", "/api/v1/tickets/not-a-number", {}, 422),
        ("GET", "/api/v1/events?since=-5", {}, 422),
        ("POST", "/api/v1/services", {"json": {"name": "X", "prefix": "1"}}, 422),
        ("POST", "/api/v1/services", {"json": {"name": "Dup", "prefix": "A"}}, 409),
        ("POST", "/api/v1/counters", {"json": {"name": "9", "service_ids": [999]}}, 422),
        ("POST", "/api/v1/counters", {"json": {"name": "1", "service_ids": []}}, 409),
        ("PATCH", "/api/v1/branch", {"json": {"timezone": "Mars/Olympus"}}, 422),
        ("GET", "/api/v1/nothing-here", {}, 404),
    ],
)
def test_bad_requests_get_clear_errors(api: Api, method: str, path: str, kwargs: dict[str, Any], status: int) -> None:
    headers = {**api.auth("admin"), **kwargs.pop("headers", {})}
    r = api.client.request(method, path, headers=headers, **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["detail"] and body["code"]
    assert "Traceback" not in r.text


def test_idempotency_key_is_validated(api: Api) -> None:
    r = api.client.post(
        "/api/v1/tickets",
        json={"service_id": api.data.services["A"]},
        headers={**api.auth("kiosk"), "Idempotency-Key": "short"},
    )
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["detail"]


def test_health_reports_database(api: Api) -> None:
    r = api.client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database_ok"] is True and body["database"] in ("sqlite", "postgresql")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert api.client.get("/openapi.json").status_code == 200
    docs = api.client.get("/docs")
    assert docs.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert api.client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
