"""Web Push subscriptions (one phone, one ticket) and the server's VAPID keys."""

from __future__ import annotations

import base64
import fnmatch
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid02
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wins.branches.models import Branch
from wins.branches.service import branch_settings
from wins.config import Settings
from wins.errors import NotFound, ValidationFailed
from wins.join.notices import notify_ahead
from wins.push.models import PushState, PushSubscription
from wins.schemas import PushStatus, fields_of
from wins.tickets.models import Ticket, TicketStatus

STATE_ID = 1


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def ensure_keys(session: Session) -> PushState:
    """The VAPID key pair, made on first use (first start of the server) and kept in the database."""
    state = session.get(PushState, STATE_ID)
    if state is not None:
        return state
    vapid = Vapid02()
    vapid.generate_keys()
    public = vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    state = PushState(
        id=STATE_ID, vapid_private_pem=vapid.private_pem().decode(), vapid_public_key=_b64(public), cursor=0
    )
    from wins.events.service import last_event_id

    state.cursor = last_event_id(session)  # notify about what happens from now on
    try:
        with session.begin_nested():
            session.add(state)
    except IntegrityError:  # another worker made them first: use theirs
        state = session.get(PushState, STATE_ID, populate_existing=True)
        assert state is not None
    return state


def vapid_signer(state: PushState) -> Vapid02:
    return Vapid02.from_pem(state.vapid_private_pem.encode())


def _ticket(session: Session, token: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.tracking_token == token))
    if ticket is None:
        raise NotFound("This ticket does not exist (check the link on your slip).")
    return ticket


def _unavailable_reason(session: Session, ticket: Ticket) -> str:
    branch = session.get(Branch, ticket.branch_id)
    if branch is None or not branch_settings(branch).push_available:
        return (
            "Notifications are not available here: this site has no internet connection for them. Keep this page open."
        )
    if TicketStatus(ticket.status) != TicketStatus.waiting:
        return "Notifications are only for tickets that are still waiting."
    return ""


def push_status(session: Session, token: str) -> dict[str, Any]:
    ticket = _ticket(session, token)
    reason = _unavailable_reason(session, ticket)
    state = session.get(PushState, STATE_ID)
    count = session.scalar(select(func.count()).where(PushSubscription.ticket_id == ticket.id)) or 0
    return fields_of(
        PushStatus,
        ticket,
        available=not reason and state is not None,
        reason=reason or ("" if state is not None else "Notifications are starting up; reload in a moment."),
        public_key=state.vapid_public_key if state is not None else None,
        subscribed=count,
        notify_ahead=notify_ahead(session, ticket.service_id),
    )


def check_endpoint(endpoint: str, settings: Settings) -> str:
    """A subscription's endpoint must be a push service this server is set up to talk to (no open relay)."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    allowed = [h.strip().lower() for h in settings.push_service_hosts.split(",") if h.strip()]
    if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
        raise ValidationFailed("This is not a push subscription address; reload the page and try again.")
    if not any(fnmatch.fnmatchcase(host, pattern) for pattern in allowed):
        raise ValidationFailed(
            f"Push service {host} is not one this site sends to; ask the site to add it to WINS_PUSH_SERVICE_HOSTS."
        )
    return endpoint


def subscribe(
    session: Session, token: str, *, endpoint: str, p256dh: str, auth: str, language: str, settings: Settings
) -> PushSubscription:
    """Keep a phone's subscription for this ticket (the same phone subscribing again replaces its old one)."""
    ticket = _ticket(session, token)
    reason = _unavailable_reason(session, ticket)
    if reason:
        raise ValidationFailed(reason)
    ensure_keys(session)
    check_endpoint(endpoint, settings)
    for field, raw in (("p256dh", p256dh), ("auth", auth)):
        try:
            decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except ValueError:
            raise ValidationFailed(f"The subscription's {field} key is not base64url; reload and try again.") from None
        if (field == "p256dh" and len(decoded) != 65) or (field == "auth" and len(decoded) != 16):
            raise ValidationFailed(f"The subscription's {field} key has the wrong length; reload and try again.")
    session.execute(delete(PushSubscription).where(PushSubscription.endpoint == endpoint))
    subscription = PushSubscription(
        ticket_id=ticket.id, endpoint=endpoint, p256dh=p256dh, auth=auth, language=language[:8],
        near_sent=False, calls_sent=ticket.call_count,
    )  # fmt: skip
    session.add(subscription)
    session.flush()
    return subscription


def unsubscribe(session: Session, token: str, *, endpoint: str) -> None:
    ticket = _ticket(session, token)
    session.execute(
        delete(PushSubscription).where(PushSubscription.ticket_id == ticket.id, PushSubscription.endpoint == endpoint)
    )
