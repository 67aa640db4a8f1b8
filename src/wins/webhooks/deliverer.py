"""The webhook deliverer: a background thread of each server process, sending the event log to the endpoints.

The outbox is the event log itself: each endpoint keeps a cursor (the last event id it was sent), so an event
exists for delivery exactly when its change committed, and a crash anywhere loses nothing: the cursor moves only
after the receiver answered 2xx, so the worst case is a redelivery with the same `X-WINS-Delivery` id.

Several workers (or hosts) each run a deliverer; an endpoint is worked on by one of them at a time: a short write
transaction claims it with a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so workers never wait on each other;
SQLite: the `BEGIN IMMEDIATE` write transaction serialises the claim), and every later write checks that the
lease is still ours. A crashed worker's lease lapses after `lease_seconds`. The HTTP call is made outside any
transaction, in this thread, with timeouts: issuing and calling never wait for a receiver.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, or_, select, update

from wins import clock
from wins.background import BackgroundWorker
from wins.config import Settings
from wins.db import Database
from wins.events.service import last_event_id, settled_after
from wins.schemas import EventPublic, fields_of
from wins.version import package_version
from wins.webhooks.models import WebhookDelivery, WebhookEndpoint
from wins.webhooks.service import delivery_id, signature, wants

logger = logging.getLogger(__name__)

BATCH = 100  # events read per query for one endpoint
KEEP_DELIVERIES = 500  # delivery log rows kept per endpoint
CLAIM_AT_ONCE = 8


@dataclass(frozen=True)
class Policy:
    timeout: float
    retry_base: float
    retry_max: float
    pause_after: int

    def backoff(self, failures: int) -> float:
        return float(min(self.retry_max, self.retry_base * 2 ** max(0, failures - 1)))


@dataclass
class Claimed:
    id: int
    url: str
    secret: str
    event_types: list[str]
    cursor: int
    failures: int
    created_at: datetime


class WebhookDeliverer(BackgroundWorker):
    name = "wins-webhooks"

    def __init__(self, db: Database, policy: Policy, *, poll_seconds: float) -> None:
        super().__init__(db, poll_seconds=poll_seconds)
        self.policy = policy
        self.host = socket.gethostname()[:40]
        self.lease_seconds = max(30.0, policy.timeout * 4 + 10)
        self._client: httpx.Client | None = None

    # -- life ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._reclaim_dead_leases()
        # httpx logs every request's full URL at INFO; a receiver's URL may hold its own credential (many
        # services put one in the path), and no secret may reach a log line. Our own log says what failed.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
        self._client = httpx.Client(timeout=httpx.Timeout(self.policy.timeout), follow_redirects=False, trust_env=False)
        super().start()

    def stop(self, *, timeout: float | None = None) -> None:
        if self._thread is None:
            return
        super().stop(timeout=timeout if timeout is not None else self.policy.timeout + 5)
        if self._client is not None:
            self._client.close()
            self._client = None

    def _reclaim_dead_leases(self) -> None:
        """Free the claims of deliverers on this host whose process is gone (killed, crashed), so a restarted
        server goes on at once instead of waiting for their leases to lapse. Other hosts' lapse on their own."""
        try:
            with self.db.session() as session:
                rows = session.execute(
                    select(WebhookEndpoint.id, WebhookEndpoint.lease_owner).where(
                        WebhookEndpoint.lease_owner.like(f"{self.host}:%")
                    )
                ).all()
                dead = [row.id for row in rows if not _alive(row.lease_owner)]
                if dead:
                    session.execute(
                        update(WebhookEndpoint)
                        .where(WebhookEndpoint.id.in_(dead))
                        .values(lease_owner=None, lease_until=None)
                    )
        except Exception:  # not worth failing start-up for: the leases lapse anyway
            logger.exception("could not free the webhook claims of stopped processes")

    # -- one round ---------------------------------------------------------------------------------------------

    def run_once(self) -> bool:
        """Claim the endpoints that have something due, deliver to each in order, release them. True if any
        event was delivered or skipped (there may be more)."""
        claimed = self._claim()
        progressed = False
        try:
            for endpoint in claimed:
                if self._stop.is_set():
                    break
                progressed = self._deliver_to(endpoint) or progressed
        finally:
            if claimed:
                self._release([e.id for e in claimed])
        return progressed

    def _due(self, session: Any, now: datetime) -> Any:
        return (
            select(WebhookEndpoint)
            .where(
                WebhookEndpoint.active,
                WebhookEndpoint.paused_at.is_(None),
                WebhookEndpoint.cursor < last_event_id(session),
                or_(WebhookEndpoint.next_attempt_at.is_(None), WebhookEndpoint.next_attempt_at <= now),
                or_(WebhookEndpoint.lease_until.is_(None), WebhookEndpoint.lease_until < now),
            )
            .order_by(WebhookEndpoint.id)
            .limit(CLAIM_AT_ONCE)
        )

    def _claim(self) -> list[Claimed]:
        now = clock.utcnow()
        # Looked at first in a read transaction: with nothing due (no endpoint, or all caught up) the deliverer
        # never takes the write lock, which on SQLite the kiosks' issuing needs (tests/test_express.py).
        with self.db.session(write=False) as session:
            if session.scalar(self._due(session, now)) is None:
                return []
        with self.db.session() as session:
            query = self._due(session, now)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            claimed: list[Claimed] = []
            for endpoint in session.scalars(query):
                endpoint.lease_owner = self.owner
                endpoint.lease_until = now + timedelta(seconds=self.lease_seconds)
                claimed.append(
                    Claimed(
                        id=endpoint.id,
                        url=endpoint.url,
                        secret=endpoint.secret,
                        event_types=list(endpoint.event_types),
                        cursor=endpoint.cursor,
                        failures=endpoint.failures,
                        created_at=endpoint.created_at,
                    )
                )
        return claimed

    def _release(self, ids: list[int]) -> None:
        with self.db.session() as session:
            session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id.in_(ids), WebhookEndpoint.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )

    def _renew(self, session: Any, endpoint: Claimed) -> None:
        lease_until = clock.utcnow() + timedelta(seconds=self.lease_seconds)
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint.id, WebhookEndpoint.lease_owner == self.owner)
            .values(lease_until=lease_until)
        )

    def _deliver_to(self, endpoint: Claimed) -> bool:
        progressed = False
        # Only settled ids (wins.events.service): on PostgreSQL an id may still commit below a newer one; the
        # cursor must never pass it, or that event would never be delivered. Held-back events come next round.
        with self.db.session(write=False) as session:
            events, _held_back = settled_after(session, endpoint.cursor, limit=BATCH)
        skipped_to: int | None = None
        for event in events:
            if self._stop.is_set():
                break
            if not wants(endpoint.event_types, event.type, event.data or {}):
                skipped_to = event.id
                continue
            if skipped_to is not None:
                self._advance(endpoint, skipped_to, None)
                skipped_to = None
            if not self._send(endpoint, event):
                return progressed
            progressed = True
        if skipped_to is not None:
            self._advance(endpoint, skipped_to, None)
            progressed = True
        return progressed

    def _send(self, endpoint: Claimed, event: Any) -> bool:
        assert self._client is not None
        body = json.dumps(
            fields_of(EventPublic, event, at=event.at.isoformat()), separators=(",", ":"), ensure_ascii=False
        ).encode()
        delivery = delivery_id(endpoint.id, endpoint.created_at, event.id)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"WINS-Webhooks/{package_version()}",
            "X-WINS-Event": event.type,
            "X-WINS-Delivery": delivery,
            "X-WINS-Signature": signature(endpoint.secret, body),
        }
        started = time.perf_counter()
        status: int | None = None
        error = ""
        try:
            response = self._client.post(endpoint.url, content=body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"answered HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
        elapsed = int((time.perf_counter() - started) * 1000)
        log = WebhookDelivery(
            endpoint_id=endpoint.id,
            event_id=event.id,
            event_type=event.type,
            delivery_id=delivery,
            attempt=endpoint.failures + 1,
            status_code=status,
            ok=not error,
            error=error,
            duration_ms=elapsed,
        )
        if not error:
            self._advance(endpoint, event.id, log)
            return True
        self._failed(endpoint, log)
        return False

    def _advance(self, endpoint: Claimed, event_id: int, log: WebhookDelivery | None) -> None:
        with self.db.session() as session:
            moved = session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint.id, WebhookEndpoint.lease_owner == self.owner)
                .values(cursor=event_id, failures=0, next_attempt_at=None, last_error="")
            )
            if log is not None and moved.rowcount:  # type: ignore[attr-defined]
                session.add(log)
                self._prune(session, endpoint.id)
            self._renew(session, endpoint)
        endpoint.cursor = event_id
        endpoint.failures = 0

    def _failed(self, endpoint: Claimed, log: WebhookDelivery) -> None:
        failures = endpoint.failures + 1
        now = clock.utcnow()
        values: dict[str, Any] = {"failures": failures, "last_error": log.error}
        if failures >= self.policy.pause_after:
            values["paused_at"] = now
            logger.warning("webhook %s paused after %s failed attempts: %s", endpoint.id, failures, log.error)
        else:
            values["next_attempt_at"] = now + timedelta(seconds=self.policy.backoff(failures))
            logger.info("webhook %s delivery failed (%s), attempt %s", endpoint.id, log.error, failures)
        with self.db.session() as session:
            moved = session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint.id, WebhookEndpoint.lease_owner == self.owner)
                .values(**values)
            )
            if moved.rowcount:  # type: ignore[attr-defined]
                session.add(log)
                self._prune(session, endpoint.id)
        endpoint.failures = failures

    def _prune(self, session: Any, endpoint_id: int) -> None:
        oldest_kept = session.scalar(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .offset(KEEP_DELIVERIES)
            .limit(1)
        )
        if oldest_kept is not None:
            session.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.id <= oldest_kept
                )
            )


def _alive(owner: str) -> bool:
    try:
        pid = int(owner.split(":")[1])
    except (IndexError, ValueError):
        return True
    if pid == os.getpid():
        return False  # an earlier deliverer of this very process, stopped
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def deliverer_for(db: Database, settings: Settings) -> WebhookDeliverer | None:
    """The server process's deliverer (None when `WINS_WEBHOOK_DELIVERY` is off)."""
    if not settings.webhook_delivery:
        return None
    policy = Policy(
        timeout=settings.webhook_timeout_seconds,
        retry_base=settings.webhook_retry_base_seconds,
        retry_max=settings.webhook_retry_max_seconds,
        pause_after=settings.webhook_pause_after_failures,
    )
    return WebhookDeliverer(db, policy, poll_seconds=settings.webhook_poll_seconds)
