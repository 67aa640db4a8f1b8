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


def test_people_get_an_error_page_and_programs_keep_json(api: Api) -> None:
    """Every address outside /api/ answers an HTTP error with a page for people (title, words, a way on), the API
    keeps `{"detail", "code"}`: for no such address (404), a wrong method (405) and a crash (500)."""

    def boom() -> None:
        raise RuntimeError("a bug")

    app: Any = api.client.app
    app.add_api_route("/boom", boom)
    app.add_api_route("/api/v1/boom", boom)
    client = type(api.client)(app, raise_server_exceptions=False)
    cases = [("GET", "/no-such-page", 404, "Page not found"), ("DELETE", "/login", 405, "Not possible here"),
             ("GET", "/boom", 500, "Something went wrong")]  # fmt: skip
    for method, path, status, title in cases:
        page = client.request(method, path, headers={"Accept": "text/html"})
        assert page.status_code == status, (path, page.text)
        assert page.headers["content-type"].startswith("text/html")
        assert f"<title>{title} · WINS</title>" in page.text and f"<h1>{title}</h1>" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert '"detail"' not in page.text
        api_path = "/api/v1" + ("/boom" if path == "/boom" else "/no-such-thing")
        method_for_api = "DELETE" if status == 405 else "GET"
        if status == 405:
            api_path = "/api/v1/queue"
        answer = client.request(method_for_api, api_path, headers=api.auth("admin"))
        assert answer.status_code == status and answer.headers["content-type"] == "application/json"
        assert set(answer.json()) == {"detail", "code"}
    assert "GET" in client.request("DELETE", "/login").headers["allow"]  # the 405 keeps its Allow header
