"""wins.retry: a request whose transaction PostgreSQL aborts as a deadlock victim runs again, body and all, and
answers as if nothing happened; one that keeps failing gets a 503 saying to try again; nothing is committed
twice. The abort is PostgreSQL's own error (SQLSTATE 40P01, raised in the request's transaction)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.support.databases import TemplateCache
from wins import retry
from wins.app import create_app
from wins.config import Settings
from wins.deps import SessionDep
from wins.events.service import record_event

pytestmark = pytest.mark.postgres

_DEADLOCK = text("DO $$ BEGIN RAISE EXCEPTION 'deadlock detected (test)' USING ERRCODE = 'deadlock_detected'; END $$")


@pytest.fixture
def pg_settings(templates: TemplateCache, tmp_path: Path) -> Iterator[Settings]:
    """PostgreSQL only: SQLite writers are serial and never deadlock (the middleware is not installed there)."""
    with templates.database("postgres", tmp_path) as url:
        yield Settings(database_url=url, data_dir=tmp_path / "d", secret_key="k" * 40, log_level="WARNING")


def _app(settings: Settings, failures: int) -> tuple[Any, list[dict[str, Any]]]:
    app = create_app(settings)
    attempts: list[dict[str, Any]] = []

    @app.post("/api/v1/test-conflict")
    def conflict(body: dict[str, Any], session: SessionDep) -> dict[str, Any]:
        attempts.append(body)
        record_event(session, "test.conflict", {"attempt": len(attempts)}, branch_id=None)
        if len(attempts) <= failures:
            session.execute(_DEADLOCK)
        return {"attempts": len(attempts), "body": body}

    return app, attempts


def _events(settings: Settings) -> list[Any]:
    from wins.db import Database

    db = Database(settings)
    try:
        with db.session(write=False) as session:
            return list(session.execute(text("SELECT data FROM events WHERE type = 'test.conflict'")).scalars())
    finally:
        db.dispose()


def test_a_deadlock_victim_is_run_again_with_its_body(pg_settings: Settings) -> None:
    app, attempts = _app(pg_settings, failures=2)
    with TestClient(app) as client:
        r = client.post("/api/v1/test-conflict", json={"hello": "world"})
    assert r.status_code == 200, r.text
    assert r.json() == {"attempts": 3, "body": {"hello": "world"}}
    assert attempts == [{"hello": "world"}] * 3
    assert [e["attempt"] for e in _events(pg_settings)] == [3]  # the aborted tries left nothing


def test_a_request_that_keeps_conflicting_answers_503_after_the_last_try(pg_settings: Settings) -> None:
    app, attempts = _app(pg_settings, failures=100)
    with TestClient(app) as client:
        r = client.post("/api/v1/test-conflict", json={})
    assert r.status_code == 503
    assert r.json()["code"] == "database_busy" and "try again" in r.json()["detail"]
    assert len(attempts) == retry.ATTEMPTS
    assert _events(pg_settings) == []
