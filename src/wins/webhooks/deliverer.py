"""The webhook deliverer: a background thread of each server process, sending the event log to the endpoints.

The outbox is the event log itself: each endpoint keeps a cursor (the last event id it was sent), so an event
exists for delivery exactly when its change committed, and a crash anywhere loses nothing: the cursor moves only
after the receiver answered 2xx, so the worst case is a redelivery with the same `X-WINS-Delivery` id.

Several workers (or hosts) each run a deliverer; an endpoint is worked on by one of them at a time: a short write
transaction claims it with a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so workers never wait on each other;
SQLite: the `BEGIN IMMEDIATE` write transaction serialises the claim), and every later write checks that the
lease is still ours. Claims are made at the poll period and kept (renewed at each poll, re-reading the endpoint,
so an admin's change is seen within one poll period): the holder is woken by the event hub and sends from its
memory; the other workers do nothing per event, and with no active endpoint no worker does (wins.background).
A crashed worker's lease lapses after `lease_seconds`; a paused endpoint's lease is let go. The HTTP call is made
outside any transaction, in this thread, with timeouts: issuing and calling never wait for a receiver.
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
from wins.events.hub import EventHub, LoggedEvent
from wins.events.service import last_event_id
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
    next_attempt_at: datetime | None = None


def _claimed(endpoint: WebhookEndpoint, *, cursor: int | None = None) -> Claimed:
    return Claimed(
        id=endpoint.id,
        url=endpoint.url,
        secret=endpoint.secret,
        event_types=list(endpoint.event_types),
        cursor=endpoint.cursor if cursor is None else cursor,
        failures=endpoint.failures,
        created_at=endpoint.created_at,
        next_attempt_at=endpoint.next_attempt_at,
    )


# An endpoint events are delivered to: switched on and not paused after failing.
_DELIVERABLE = (WebhookEndpoint.active, WebhookEndpoint.paused_at.is_(None))


class WebhookDeliverer(BackgroundWorker):
    name = "wins-webhooks"

    def __init__(self, db: Database, policy: Policy, *, poll_seconds: float, hub: EventHub | None = None) -> None:
        super().__init__(db, poll_seconds=poll_seconds, hub=hub)
        self.policy = policy
        self.host = socket.gethostname()[:40]
        self.lease_seconds = max(30.0, policy.timeout * 4 + 10)
        self._client: httpx.Client | None = None
        self._held: dict[int, Claimed] = {}  # the endpoints this deliverer holds the lease of

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
        self._release_all()
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

    # -- claims (at each poll) -------------------------------------------------------------------------------

    def poll(self) -> None:
        """Renew what we hold (and see any change made to it), and claim endpoints that have something due and
        no holder. Holding none (no active endpoint, or others hold them all), no event wakes this thread."""
        now = clock.utcnow()
        if self._held:
            self._refresh(now)
        self._claim(now)

    def wants_events(self) -> bool:
        # Only the holder of an endpoint works per event; the others claim at their poll period.
        return bool(self._held)

    def _due(self, session: Any, now: datetime) -> Any:
        return (
            select(WebhookEndpoint)
            .where(
                *_DELIVERABLE,
                WebhookEndpoint.cursor < last_event_id(session),
                or_(WebhookEndpoint.next_attempt_at.is_(None), WebhookEndpoint.next_attempt_at <= now),
                or_(WebhookEndpoint.lease_until.is_(None), WebhookEndpoint.lease_until < now),
            )
            .order_by(WebhookEndpoint.id)
            .limit(CLAIM_AT_ONCE)
        )

    def _claim(self, now: datetime) -> None:
        # Looked at first in a read transaction: with nothing due (no endpoint, or all caught up) the deliverer
        # never takes the write lock, which on SQLite the kiosks' issuing needs (tests/test_express.py).
        with self.db.session(write=False) as session:
            if session.scalar(self._due(session, now)) is None:
                return
        with self.db.session() as session:
            query = self._due(session, now)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            for endpoint in session.scalars(query):
                endpoint.lease_owner = self.owner
                endpoint.lease_until = now + timedelta(seconds=self.lease_seconds)
                self._held[endpoint.id] = _claimed(endpoint)

    def _refresh(self, now: datetime) -> None:
        """Renew the leases we hold, re-read those endpoints (an admin may have changed or paused them), and
        let go of the ones no longer ours or no longer to deliver to."""
        ids = list(self._held)
        with self.db.session() as session:
            session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id.in_(ids), WebhookEndpoint.lease_owner == self.owner)
                .values(lease_until=now + timedelta(seconds=self.lease_seconds))
            )
            rows = {e.id: e for e in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id.in_(ids)))}
            gone = []
            for endpoint_id in ids:
                row = rows.get(endpoint_id)
                if row is None or row.lease_owner != self.owner:
                    del self._held[endpoint_id]
                elif not row.active or row.paused_at is not None:
                    gone.append(endpoint_id)
                else:
                    self._held[endpoint_id] = _claimed(row, cursor=self._held[endpoint_id].cursor)
            if gone:
                self._release(session, gone)

    def _release(self, session: Any, ids: list[int]) -> None:
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(ids), WebhookEndpoint.lease_owner == self.owner)
            .values(lease_owner=None, lease_until=None)
        )
        for endpoint_id in ids:
            self._held.pop(endpoint_id, None)

    def _release_all(self) -> None:
        if not self._held:
            return
        try:
            with self.db.session() as session:
                self._release(session, list(self._held))
        except Exception:  # they lapse anyway
            logger.exception("could not release the webhook claims")
        self._held.clear()

    # -- one round ---------------------------------------------------------------------------------------------

    def run_once(self) -> bool:
        """Deliver to each endpoint we hold, in order, what it has not been sent. True if any event was delivered
        or skipped (there may be more)."""
        progressed = False
        now = clock.utcnow()
        for endpoint in list(self._held.values()):
            if self._stop.is_set():
                break
            if endpoint.next_attempt_at is not None and endpoint.next_attempt_at > now:
                continue  # backing off
            progressed = self._deliver_to(endpoint) or progressed
        return progressed

    def _deliver_to(self, endpoint: Claimed) -> bool:
        progressed = False
        # Only settled ids (wins.events.service): on PostgreSQL an id may still commit below a newer one; the
        # cursor must never pass it, or that event would never be delivered. Held-back events come next round.
        events = self.events_after(endpoint.cursor, limit=BATCH)
        skipped_to: int | None = None
        for event in events:
            if self._stop.is_set():
                break
            if not wants(endpoint.event_types, event.type, event.data or {}):
                skipped_to = event.id
                continue
            if skipped_to is not None:
                if not self._advance(endpoint, skipped_to, None):
                    return progressed
                skipped_to = None
            if not self._send(endpoint, event):
                return progressed
            progressed = True
        if skipped_to is not None and self._advance(endpoint, skipped_to, None):
            progressed = True
        return progressed

    def _send(self, endpoint: Claimed, event: Any) -> bool:
        assert self._client is not None
        if isinstance(event, LoggedEvent):
            body = event.text.encode()  # the hub's encoding: the same fields, order and separators as below
        else:
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
            return self._advance(endpoint, event.id, log)
        self._failed(endpoint, log)
        return False

    def _advance(self, endpoint: Claimed, event_id: int, log: WebhookDelivery | None) -> bool:
        """Move the endpoint's cursor (and renew our lease) if it is still ours; False: it is not any more."""
        lease_until = clock.utcnow() + timedelta(seconds=self.lease_seconds)
        with self.db.session() as session:
            moved = session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint.id, WebhookEndpoint.lease_owner == self.owner)
                .values(cursor=event_id, failures=0, next_attempt_at=None, last_error="", lease_until=lease_until)
            )
            if not moved.rowcount:  # type: ignore[attr-defined]
                self._held.pop(endpoint.id, None)  # deleted, or our lease lapsed and another worker has it
                return False
            if log is not None:
                session.add(log)
                self._prune(session, endpoint.id)
        endpoint.cursor = event_id
        endpoint.failures = 0
        endpoint.next_attempt_at = None
        return True

    def _failed(self, endpoint: Claimed, log: WebhookDelivery) -> None:
        failures = endpoint.failures + 1
        now = clock.utcnow()
        values: dict[str, Any] = {"failures": failures, "last_error": log.error}
        paused = failures >= self.policy.pause_after
        if paused:
            values.update(paused_at=now, lease_owner=None, lease_until=None)  # resumed, it is claimed afresh
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
        endpoint.next_attempt_at = values.get("next_attempt_at")
        if paused or not moved.rowcount:  # type: ignore[attr-defined]
            self._held.pop(endpoint.id, None)

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


def deliverer_for(db: Database, settings: Settings, *, hub: EventHub | None = None) -> WebhookDeliverer | None:
    """The server process's deliverer (None when `WINS_WEBHOOK_DELIVERY` is off)."""
    if not settings.webhook_delivery:
        return None
    policy = Policy(
        timeout=settings.webhook_timeout_seconds,
        retry_base=settings.webhook_retry_base_seconds,
        retry_max=settings.webhook_retry_max_seconds,
        pause_after=settings.webhook_pause_after_failures,
    )
    return WebhookDeliverer(db, policy, poll_seconds=settings.webhook_poll_seconds, hub=hub)
