"""The push notifier: a background thread of each server process that follows the event log and sends Web Push
to the phones that asked: "nearly your turn" when few people are ahead, "your turn" with the counter when called.

One process at a time does it: it holds the lease of the single `push_state` row (wins.background.LeasedFollower)
and moves its cursor after each batch; with no subscription at all it does nothing per event. The
pushes go out from this thread, outside any transaction, with a timeout: issuing and calling never wait.
A crash may repeat a notification (the cursor moves after sending), never skip one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from py_vapid import Vapid02
from sqlalchemy import delete, select, update

from wins.background import LeasedFollower
from wins.config import Settings
from wins.db import Database
from wins.events.hub import EventHub
from wins.join.notices import Touched, counter_name, near_ahead, touched
from wins.push.models import PushState, PushSubscription
from wins.push.service import STATE_ID, ensure_keys, vapid_signer
from wins.tickets.models import Ticket, TicketStatus

logger = logging.getLogger(__name__)
BATCH = 500

PHRASES = {
    "en": {"near": "{n} ahead of you", "near_one": "You are next", "near_title": "{number}: nearly your turn",
           "called_title": "{number}: it is your turn", "called": "Please go to {counter}", "counter": "the counter",
           "check_in": "Not here yet? You are called only after you tap \"I'm here\" on your ticket."},
    "fr": {"near": "{n} personnes avant vous", "near_one": "Vous êtes le prochain",
           "near_title": "{number} : c'est bientôt à vous", "called_title": "{number} : c'est à vous",
           "called": "Présentez-vous au {counter}", "counter": "guichet",
           "check_in": "Pas encore là ? Vous serez appelé après avoir touché « Je suis là » sur votre ticket."},
    "de": {"near": "{n} Personen vor Ihnen", "near_one": "Sie sind als Nächstes dran",
           "near_title": "{number}: Sie sind bald dran", "called_title": "{number}: Sie sind an der Reihe",
           "called": "Bitte gehen Sie zu {counter}", "counter": "Schalter",
           "check_in": "Noch nicht da? Sie werden erst aufgerufen, wenn Sie auf Ihrer Nummer auf „Ich bin da“ tippen."},
    "es": {"near": "{n} personas delante de usted", "near_one": "Usted es el siguiente",
           "near_title": "{number}: casi es su turno", "called_title": "{number}: es su turno",
           "called": "Diríjase a {counter}", "counter": "la ventanilla",
           "check_in": "¿Aún no ha llegado? Le llamaremos cuando toque «Estoy aquí» en su turno."},
    "it": {"near": "{n} persone prima di lei", "near_one": "Tocca a lei tra poco",
           "near_title": "{number}: tocca quasi a lei", "called_title": "{number}: è il suo turno",
           "called": "Si rechi a {counter}", "counter": "lo sportello",
           "check_in": "Non è ancora qui? Sarà chiamato dopo aver toccato «Sono qui» sul suo biglietto."},
    "nl": {"near": "{n} personen voor u", "near_one": "U bent de volgende",
           "near_title": "{number}: bijna aan de beurt", "called_title": "{number}: u bent aan de beurt",
           "called": "Ga naar {counter}", "counter": "de balie",
           "check_in": "Nog niet hier? U wordt pas opgeroepen als u op uw nummer op „Ik ben er” tikt."},
    "pt": {"near": "{n} pessoas à sua frente", "near_one": "É o próximo",
           "near_title": "{number}: quase a sua vez", "called_title": "{number}: é a sua vez",
           "called": "Dirija-se a {counter}", "counter": "o balcão",
           "check_in": "Ainda não chegou? Só é chamado depois de tocar em «Estou aqui» na sua senha."},
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


class PushNotifier(LeasedFollower):
    name = "wins-push"
    work_model = PushSubscription  # no subscription at all: nothing to do per event

    def __init__(self, db: Database, settings: Settings, *, hub: EventHub | None = None) -> None:
        super().__init__(db, poll_seconds=settings.push_poll_seconds, hub=hub, model=PushState, row_id=STATE_ID)
        self.settings = settings

    def start(self) -> None:
        with self.db.session() as session:
            ensure_keys(session)  # set-up's job on first start: the key pair exists before any page asks
        super().start()

    def run_once(self) -> bool:
        cursor = self.following()
        if cursor is None:
            return False
        # Settled ids only (wins.events.service): the cursor must never pass an id still to commit below it.
        events = self.events_after(cursor, limit=BATCH)
        if not events:
            return False
        concerned = touched(events)
        if not (concerned.called or concerned.services or concerned.ended):
            self.lease.moved(events[-1].id)
            return True
        with self.db.session(write=False) as session:
            outgoing = self._plan(session, concerned)
            signer = None
            if outgoing:  # the key is read (and parsed) only when there is something to sign
                state = session.get(PushState, STATE_ID)
                assert state is not None
                signer = vapid_signer(state)
            ended = (
                list(
                    session.scalars(select(PushSubscription.id).where(PushSubscription.ticket_id.in_(concerned.ended)))
                )
                if concerned.ended
                else []
            )
        if outgoing or ended:  # otherwise only our cursor moves (kept in memory, written with the lease)
            sent = [(o, self._send(o, signer)) for o in outgoing if signer is not None]
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
                self.lease.advance(session, events[-1].id)
        self.lease.moved(events[-1].id)
        return True

    def _plan(self, session: Any, concerned: Touched) -> list[Outgoing]:
        """What to send after these events: called tickets' phones, and waiting tickets now near the front."""
        called, services = concerned.called, concerned.services
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
                counter = counter_name(session, ticket.counter_id)
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
                ahead = near_ahead(session, ticket)
                if ahead is not None:
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
        # Imported on first push: pywebpush brings aiohttp and requests (~0.3 s of every process start).
        from pywebpush import WebPushException, webpush

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


def notifier_for(db: Database, settings: Settings, *, hub: EventHub | None = None) -> PushNotifier:
    return PushNotifier(db, settings, hub=hub)
