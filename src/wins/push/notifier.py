"""The push notifier: a background thread of each server process that follows the event log and sends Web Push
to the phones that asked: "nearly your turn" when few people are ahead, "your turn" with the counter when called.

One process at a time does it: it claims the single `push_state` row with a lease (PostgreSQL: `FOR UPDATE SKIP
LOCKED`; SQLite: inside the `BEGIN IMMEDIATE` write transaction), and moves its cursor after each batch. The
pushes go out from this thread, outside any transaction, with a timeout: issuing and calling never wait.
A crash may repeat a notification (the cursor moves after sending), never skip one.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from py_vapid import Vapid02
from pywebpush import WebPushException, webpush
from sqlalchemy import delete, or_, select, update

from wins import clock, db_flags
from wins.config import Settings
from wins.db import Database, HasInfo
from wins.events.service import settled_after
from wins.push.models import PushState, PushSubscription
from wins.push.service import STATE_ID, ensure_keys, notify_ahead, vapid_signer
from wins.tickets.estimate import people_ahead
from wins.tickets.models import Ticket, TicketStatus

logger = logging.getLogger(__name__)
BATCH = 500
LEASE_SECONDS = 60
ENDED = {"ticket.done", "ticket.no_show", "ticket.cancelled", "ticket.expired"}
CALLED = {"ticket.called", "ticket.recalled"}

PHRASES = {
    "en": {"near": "{n} ahead of you", "near_one": "You are next", "near_title": "{number}: nearly your turn",
           "called_title": "{number}: it is your turn", "called": "Please go to {counter}", "counter": "the counter",
           "check_in": "Not here yet? You are called only after you tap \"I'm here\" on your ticket."},
    "fr": {"near": "{n} personnes avant vous", "near_one": "Vous êtes le prochain",
           "near_title": "{number} : c'est bientôt à vous", "called_title": "{number} : c'est à vous",
           "called": "Présentez-vous au {counter}", "counter": "guichet",
           "check_in": "Pas encore là ? Vous serez appelé après avoir touché « Je suis là » sur votre ticket."},
}  # fmt: skip


def _words(language: str) -> dict[str, str]:
    return PHRASES.get(language.split("-")[0].lower(), PHRASES["en"])


@dataclass
class Outgoing:
    subscription_id: int
    endpoint: str
    p256dh: str
    auth: str
    payload: dict[str, Any]
    kind: str  # "near" or "called"
    calls: int


def near_message(language: str, number: str, ahead: int, path: str, *, check_in: bool = False) -> dict[str, Any]:
    """ "Nearly your turn"; `check_in`: the ticket still waits for arrival check-in, and the text asks for it."""
    w = _words(language)
    body = w["near_one"] if ahead == 0 else w["near"].format(n=ahead)
    if check_in:
        body += ". " + w["check_in"]
    return {"title": w["near_title"].format(number=number), "body": body, "url": path, "tag": f"wins-{number}"}


def called_message(language: str, number: str, counter: str | None, path: str) -> dict[str, Any]:
    w = _words(language)
    title = w["called_title"].format(number=number)
    return {"title": title, "body": w["called"].format(counter=counter or w["counter"]), "url": path,
            "tag": f"wins-{number}", "called": True}  # fmt: skip


class PushNotifier:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{id(self) % 10000}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cursor: int | None = None  # while we hold the lease
        self._renew_at = clock.utcnow()

    def start(self) -> None:
        with self.db.session() as session:
            ensure_keys(session)  # set-up's job on first start: the key pair exists before any page asks
        self.db.after_commit_hooks.insert(0, self._after_commit)
        self._thread = threading.Thread(target=self._loop, name="wins-push", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=15)
        self._thread = None
        if self._after_commit in self.db.after_commit_hooks:
            self.db.after_commit_hooks.remove(self._after_commit)
        with self.db.session() as session:
            values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
            if self._cursor is not None:
                values["cursor"] = self._cursor
            session.execute(update(PushState).where(PushState.lease_owner == self.owner).values(**values))

    def _after_commit(self, committed: HasInfo) -> None:
        if db_flags.events_written(committed):
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                logger.exception("push notifier failed; retrying")
                busy = False
            if not busy:
                self._wake.wait(self.settings.push_poll_seconds)
                self._wake.clear()

    def _claim(self) -> bool:
        """Take (or renew) the lease of the single notifier row, persisting our cursor when we hold it. Held
        for LEASE_SECONDS and renewed at a third of that, so an idle notifier writes about every 20 s, not at
        every event (on SQLite each write takes the lock issuing needs)."""
        now = clock.utcnow()
        with self.db.session() as session:
            query = select(PushState).where(
                PushState.id == STATE_ID,
                or_(PushState.lease_owner.is_(None), PushState.lease_owner == self.owner, PushState.lease_until < now),
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            state = session.scalar(query)
            if state is None:
                self._cursor = None
                return False
            if state.lease_owner == self.owner and self._cursor is not None:
                state.cursor = max(state.cursor, self._cursor)
            self._cursor = state.cursor
            state.lease_owner = self.owner
            state.lease_until = now + timedelta(seconds=LEASE_SECONDS)
        self._renew_at = now + timedelta(seconds=LEASE_SECONDS / 3)
        return True

    def run_once(self) -> bool:
        if self._cursor is None or clock.utcnow() >= self._renew_at:
            if not self._claim():
                return False
        cursor = self._cursor
        assert cursor is not None
        with self.db.session(write=False) as session:
            # Settled ids only (wins.events.service): the cursor must never pass an id still to commit below it.
            events, _held_back = settled_after(session, cursor, limit=BATCH)
            if not events:
                return False
            state = session.get(PushState, STATE_ID)
            assert state is not None
            signer = vapid_signer(state)
            outgoing = self._plan(session, events)
            ended = [e.data.get("id") for e in events if e.type in ENDED and isinstance(e.data, dict)]
            ended = list(session.scalars(select(PushSubscription.id).where(PushSubscription.ticket_id.in_(ended))))
        if outgoing or ended:  # otherwise only our cursor moves (kept in memory, written with the lease)
            sent = [(o, self._send(o, signer)) for o in outgoing]
            with self.db.session() as session:
                for o, result in sent:
                    values: dict[str, Any] = {"near_sent": True}
                    if o.kind == "called":
                        values["calls_sent"] = o.calls
                    query = PushSubscription.id == o.subscription_id
                    if result == "gone":
                        session.execute(delete(PushSubscription).where(query))
                    else:
                        session.execute(update(PushSubscription).where(query).values(**values))
                if ended:  # the ticket's story is over: its phones' subscriptions go (docs/remote.md, privacy)
                    session.execute(delete(PushSubscription).where(PushSubscription.id.in_(ended)))
                session.execute(
                    update(PushState)
                    .where(PushState.id == STATE_ID, PushState.lease_owner == self.owner)
                    .values(cursor=events[-1].id)
                )
        self._cursor = events[-1].id
        return True

    def _plan(self, session: Any, events: list[Any]) -> list[Outgoing]:
        """What to send after these events: called tickets' phones, and waiting tickets now near the front."""
        called: set[int] = set()
        services: set[int] = set()
        for event in events:
            data = event.data if isinstance(event.data, dict) else {}
            if not event.type.startswith("ticket."):
                continue
            if event.type in CALLED and isinstance(data.get("id"), int):
                called.add(data["id"])
            if isinstance(data.get("service_id"), int):
                services.add(data["service_id"])
        out: list[Outgoing] = []
        if called:
            rows = session.execute(
                select(PushSubscription, Ticket)
                .join(Ticket, Ticket.id == PushSubscription.ticket_id)
                .where(Ticket.id.in_(called), Ticket.status == TicketStatus.called)
            ).all()
            for sub, ticket in rows:
                if sub.calls_sent >= ticket.call_count:
                    continue
                counter = _counter_name(session, ticket.counter_id)
                message = called_message(sub.language, ticket.number, counter, f"/t/{ticket.tracking_token}")
                out.append(Outgoing(sub.id, sub.endpoint, sub.p256dh, sub.auth, message, "called", ticket.call_count))
        if services:
            rows = session.execute(
                select(PushSubscription, Ticket)
                .join(Ticket, Ticket.id == PushSubscription.ticket_id)
                .where(
                    Ticket.service_id.in_(services),
                    Ticket.status == TicketStatus.waiting,
                    PushSubscription.near_sent.is_(False),
                )
            ).all()
            for sub, ticket in rows:
                ahead = people_ahead(session, ticket)
                if ahead <= notify_ahead(session, ticket.service_id):
                    message = near_message(
                        sub.language,
                        ticket.number,
                        ahead,
                        f"/t/{ticket.tracking_token}",
                        check_in=ticket.checkin_required and ticket.checked_in_at is None,
                    )
                    out.append(Outgoing(sub.id, sub.endpoint, sub.p256dh, sub.auth, message, "near", 0))
        return out

    def _send(self, o: Outgoing, signer: Vapid02) -> str:
        try:
            webpush(
                {"endpoint": o.endpoint, "keys": {"p256dh": o.p256dh, "auth": o.auth}},
                json.dumps(o.payload, ensure_ascii=False),
                vapid_private_key=signer,
                vapid_claims={"sub": self.settings.push_contact},
                timeout=5,
                ttl=600,
            )
            return "sent"
        except WebPushException as exc:
            status = getattr(exc.response, "status_code", None)
            if status in (404, 410):  # the phone unsubscribed or the subscription expired
                return "gone"
            logger.warning("push to a phone failed (HTTP %s)", status)  # never the endpoint: it identifies a phone
            return "failed"
        except Exception as exc:  # noqa: BLE001 - network errors of requests; a push is best effort
            logger.warning("push to a phone failed: %s", type(exc).__name__)
            return "failed"


def _counter_name(session: Any, counter_id: int | None) -> str | None:
    if counter_id is None:
        return None
    from wins.counters.models import Counter

    counter = session.get(Counter, counter_id)
    return counter.name if counter is not None else None


def notifier_for(db: Database, settings: Settings) -> PushNotifier:
    return PushNotifier(db, settings)
