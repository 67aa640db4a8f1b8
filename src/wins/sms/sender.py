"""The SMS sender: a background thread of each server process (wins.background).

Two jobs. Following the event log (one process at a time, under the lease of the `sms_state` row; while no number
is kept at all it does nothing per event, wins.background.LeasedFollower): after each batch of events it queues
the texts due ("nearly your turn" once, "it is your turn — go to counter X" at each call) in `sms_outbox`, forgets
the numbers of tickets that ended, and moves its cursor — all in one transaction.
Sending (any process, at each poll period, and at once after this process queued texts or sent some): each due
outbox row is claimed by a conditional UPDATE (its attempt count and due time must still be what this process
read), so two workers never send the same text; the gateway is called outside any transaction with a timeout, so
issuing and calling never wait; a failure is retried with doubling waits up to WINS_SMS_MAX_ATTEMPTS. A crash
during a send may repeat that one text after the hold, never lose it.
No log line holds a number, the gateway's address (it may hold the number or the token) or the text.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wins import clock
from wins.background import LeasedFollower
from wins.config import Settings
from wins.db import Database
from wins.events.hub import EventHub
from wins.events.service import last_event_id
from wins.join.notices import Touched, counter_name, near_ahead, touched
from wins.sms import gateway
from wins.sms.models import SmsOutbox, SmsRequest, SmsState
from wins.sms.phone import decrypt
from wins.sms.service import ended_with_numbers, erase
from wins.tickets.models import Ticket, TicketStatus

logger = logging.getLogger(__name__)
STATE_ID = 1
BATCH = 500
SEND_AT_ONCE = 20
SWEEP_SECONDS = 60.0

WORDS = {
    "en": {"near": "{number}: nearly your turn, {n} ahead of you.",
           "near_one": "{number}: nearly your turn, you are next.",
           "called": "{number}: it is your turn. Please go to {counter}.", "counter": "the counter"},
    "fr": {"near": "{number} : c'est bientôt à vous, {n} personnes avant vous.",
           "near_one": "{number} : c'est bientôt à vous, vous êtes le prochain.",
           "called": "{number} : c'est à vous. Présentez-vous au {counter}.", "counter": "guichet"},
}  # fmt: skip


def near_text(language: str, number: str, ahead: int) -> str:
    words = WORDS.get(language, WORDS["en"])
    return (words["near_one"] if ahead == 0 else words["near"]).format(number=number, n=ahead)


def called_text(language: str, number: str, counter: str | None) -> str:
    words = WORDS.get(language, WORDS["en"])
    return words["called"].format(number=number, counter=counter or words["counter"])


@dataclass
class Planned:
    request_id: int
    kind: str  # "near" or "called-<call count>"
    text: str
    calls: int


def ensure_state(session: Session) -> None:
    """The sender's row, made on first start: it texts about what happens from now on."""
    if session.get(SmsState, STATE_ID) is not None:
        return
    try:
        with session.begin_nested():
            session.add(SmsState(id=STATE_ID, cursor=last_event_id(session)))
    except IntegrityError:  # another worker made it first
        pass


class SmsSender(LeasedFollower):
    name = "wins-sms"
    work_model = SmsRequest  # no number kept at all: nothing to do per event (and no gateway: none can be)

    def __init__(self, db: Database, settings: Settings, *, hub: EventHub | None = None) -> None:
        super().__init__(db, poll_seconds=settings.sms_poll_seconds, hub=hub, model=SmsState, row_id=STATE_ID)
        self.settings = settings
        self._client: httpx.Client | None = None
        self._sweep_at = 0.0
        self._send_now = True  # look at the outbox at once (not only at the next poll)

    def start(self) -> None:
        with self.db.session() as session:
            ensure_state(session)
        # httpx logs each request's full URL at INFO, and a gateway's URL holds the number (and maybe the token).
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.settings.sms_timeout_seconds), follow_redirects=False, trust_env=False
        )
        super().start()

    def stop(self, *, timeout: float = 15.0) -> None:
        if self._thread is None:
            return
        super().stop(timeout=max(timeout, self.settings.sms_timeout_seconds + 5))
        if self._client is not None:
            self._client.close()
            self._client = None

    def poll(self) -> None:
        super().poll()
        self._send_now = True  # texts another process queued, and retries that are due

    def run_once(self) -> bool:
        followed = self.follow_events()
        sent = False
        if self.settings.sms_gateway_url and self._send_now:
            # Not at every event: only the follower queues texts, and it says so (`wake` after planning).
            sent = self.send_due()
            self._send_now = sent
        return followed or sent

    def wake_to_send(self) -> None:
        self._send_now = True
        self.wake()

    # -- following the event log (lease holder only) -------------------------------------------------------

    def follow_events(self) -> bool:
        sweep = time.monotonic() >= self._sweep_at and self.lease.cursor is not None and self.lease.held()
        cursor = self.following()
        if cursor is None and not sweep:
            return False
        # Settled ids only (wins.events.service): the cursor must never pass an id still to commit below it.
        events = self.events_after(cursor, limit=BATCH) if cursor is not None else []
        if not events and not sweep:
            return False
        concerned = touched(events)
        with self.db.session(write=False) as session:
            planned = self._plan(session, concerned) if self.settings.sms_gateway_url else []
            ended = (
                list(session.scalars(select(SmsRequest.ticket_id).where(SmsRequest.ticket_id.in_(concerned.ended))))
                if concerned.ended
                else []
            )
            if sweep:  # the safety net: numbers of tickets that ended while no sender ran, or before this cursor
                ended += ended_with_numbers(session)
        if sweep:
            self._sweep_at = time.monotonic() + SWEEP_SECONDS
        if planned or ended:  # otherwise only our cursor moves (kept in memory, written with the lease)
            with self.db.session() as session:
                for p in planned:
                    request = session.get(SmsRequest, p.request_id)
                    if request is None:  # its owner stopped the texts meanwhile
                        continue
                    exists = session.scalar(
                        select(SmsOutbox.id).where(SmsOutbox.request_id == p.request_id, SmsOutbox.kind == p.kind)
                    )
                    if exists is None:
                        session.add(SmsOutbox(request_id=p.request_id, kind=p.kind, text=p.text, attempts=0))
                    if p.kind == "near":
                        request.near_sent = True
                    else:
                        request.calls_sent = max(request.calls_sent, p.calls)
                session.flush()
                # The ticket's story is over: its number goes, with any text not yet sent (docs/remote.md, privacy).
                erase(session, ticket_ids=ended)
                if events:
                    self.lease.advance(session, events[-1].id)
        if events:
            self.lease.moved(events[-1].id)
        if planned:
            self.wake_to_send()
        return bool(events)

    def _plan(self, session: Session, concerned: Touched) -> list[Planned]:
        """The texts due after these events: called tickets' numbers, and waiting tickets now near the front."""
        called, services = concerned.called, concerned.services
        out: list[Planned] = []
        if called:
            rows = session.execute(
                select(SmsRequest, Ticket)
                .join(Ticket, Ticket.id == SmsRequest.ticket_id)
                .where(Ticket.id.in_(called), Ticket.status == TicketStatus.called)
            ).all()
            for request, ticket in rows:
                if request.calls_sent >= ticket.call_count:
                    continue
                text = called_text(request.language, ticket.number, counter_name(session, ticket.counter_id))
                out.append(Planned(request.id, f"called-{ticket.call_count}", text, ticket.call_count))
        if services:
            rows = session.execute(
                select(SmsRequest, Ticket)
                .join(Ticket, Ticket.id == SmsRequest.ticket_id)
                .where(
                    Ticket.service_id.in_(services),
                    Ticket.status == TicketStatus.waiting,
                    SmsRequest.near_sent.is_(False),
                )
            ).all()
            for request, ticket in rows:
                ahead = near_ahead(session, ticket)
                if ahead is not None:
                    out.append(Planned(request.id, "near", near_text(request.language, ticket.number, ahead), 0))
        return out

    # -- sending (any worker) -------------------------------------------------------------------------------

    def send_due(self) -> bool:
        now = clock.utcnow()
        with self.db.session(write=False) as session:
            due = session.execute(
                select(SmsOutbox.id, SmsOutbox.attempts)
                .where(SmsOutbox.next_attempt_at <= now)
                .order_by(SmsOutbox.id)
                .limit(SEND_AT_ONCE)
            ).all()
        sent_any = False
        for row in due:
            claimed = self._claim(row.id, row.attempts, now)
            if claimed is None:
                continue  # another worker has it, or it went meanwhile
            sent_any = True
            encrypted, text, attempt = claimed
            number = decrypt(encrypted, secret_key=self.settings.effective_secret_key)
            if number is None:
                logger.warning("dropped a text: its number was stored under another secret key")
                self._settle(row.id, attempt, error="", drop=True)
                continue
            assert self._client is not None
            error = gateway.send(self._client, gateway.build_request(self.settings, phone=number, text=text))
            self._settle(row.id, attempt, error=error)
        return sent_any

    def _claim(self, outbox_id: int, seen_attempts: int, now: Any) -> tuple[str, str, int] | None:
        """Take one text: only if its attempts and due time are still what we read (the one UPDATE that wins).
        While we send it, it is due again only after a hold longer than the gateway's timeout."""
        hold = now + timedelta(seconds=self.settings.sms_timeout_seconds * 2 + 30)
        with self.db.session() as session:
            result = session.execute(
                update(SmsOutbox)
                .where(
                    SmsOutbox.id == outbox_id,
                    SmsOutbox.attempts == seen_attempts,
                    SmsOutbox.next_attempt_at <= now,
                )
                .values(attempts=seen_attempts + 1, next_attempt_at=hold)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                return None
            row = session.execute(
                select(SmsRequest.phone_encrypted, SmsOutbox.text)
                .join(SmsRequest, SmsRequest.id == SmsOutbox.request_id)
                .where(SmsOutbox.id == outbox_id)
            ).one_or_none()
            if row is None:
                return None
            return row.phone_encrypted, row.text, seen_attempts + 1

    def _settle(self, outbox_id: int, attempt: int, *, error: str, drop: bool = False) -> None:
        mine = (SmsOutbox.id == outbox_id, SmsOutbox.attempts == attempt)
        most = self.settings.sms_max_attempts
        with self.db.session() as session:
            if not error or drop or attempt >= most:
                session.execute(delete(SmsOutbox).where(*mine))
                if error:
                    logger.warning("gave up on a text after %d attempts: %s", attempt, error)
                return
            wait = min(self.settings.sms_retry_max_seconds, self.settings.sms_retry_base_seconds * 2 ** (attempt - 1))
            session.execute(
                update(SmsOutbox)
                .where(*mine)
                .values(next_attempt_at=clock.utcnow() + timedelta(seconds=wait))
                .execution_options(synchronize_session=False)
            )
        logger.warning("a text failed (%s); trying again in %.0f s (attempt %d of %d)", error, wait, attempt, most)
