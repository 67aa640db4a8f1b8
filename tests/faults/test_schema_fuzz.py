"""Bad input, generated from the API's own OpenAPI document (schemathesis, in-process, with an admin token):
no server error and no response outside the documented schema, for valid and invalid data alike (oversized
and unicode strings, huge numbers, wrong types come from the negative mode; wrong content types and
oversized bodies are sent by hand below).

schemathesis' pytest plugin does not work with pytest 9 yet, so the operations are walked here directly."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Api
from wins.staff.models import StaffUser
from wins.staff.service import issue_token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 15


@pytest.fixture
def backend() -> str:
    return "sqlite"  # input handling does not depend on the database; the crash tests cover PostgreSQL


def _admin_headers(api: Api) -> dict[str, str]:
    """A token for the admin as of now: POST /auth/logout, fuzzed like any route, ends the ones issued before."""
    db = api.client.app.state.db  # type: ignore[attr-defined]
    secret = api.client.app.state.settings.effective_secret_key  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        admin = session.get(StaffUser, api.data.users["admin"])
        assert admin is not None
        return {"Authorization": f"Bearer {issue_token(admin, secret_key=secret)}"}


def _fuzz(api: Api, operation: Any, mode: schemathesis.GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        if case.path.endswith(("/events", "/updates")):
            case.query = {**(case.query or {}), "timeout": 0}  # a long-poll would wait up to a minute
        case.call_and_validate(headers={**_admin_headers(api), **(case.headers or {})}, checks=CHECKS)

    run()


def test_api_answers_every_input_as_documented(api: Api) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err here is a broken schema: let it raise
        operations += 1
        for mode in schemathesis.GenerationMode:
            try:
                _fuzz(api, operation, mode)
            except Unsatisfiable:
                pass  # nothing to make invalid (no parameters, no body)
            except (Exception, BaseExceptionGroup) as exc:  # collect them all: one report beats twenty reruns
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}"[:1500])
    assert operations >= 25
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"service_id": 1}'),
        ("application/xml", b"<ticket><service_id>1</service_id></ticket>"),
        ("application/json", b'{"service_id": 1'),  # truncated
        ("application/json", b'{"service_id": 99999999999999999999999999999999}'),
        ("application/json", b'{"service_id": 1, "language": "' + ("é" * 5000).encode() + b'"}'),
        ("application/json", b'{"service_id": 1, "pad": "' + b"x" * 3_000_000 + b'"}'),  # 3 MB
        ("application/json", b"[" * 100_000),
        ("application/json", '{"service_id": 1, "language": "\U0001f600\\u0000"}'.encode()),
    ],
)
def test_hostile_bodies_are_refused_cleanly(api: Api, content_type: str, body: bytes) -> None:
    r = api.client.post("/api/v1/tickets", content=body, headers={**api.auth("kiosk"), "Content-Type": content_type})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["code"] and r.json()["detail"]
