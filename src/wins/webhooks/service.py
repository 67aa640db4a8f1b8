"""Webhook endpoints (admin): register, change, delete, resume; and which events an endpoint is sent."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from wins.audit.service import record_change
from wins.errors import NotFound, ValidationFailed
from wins.events.service import INTERNAL_PREFIX, last_event_id
from wins.schemas import WebhookDeliveryPublic, WebhookPublic, fields_of
from wins.webhooks.models import WebhookDelivery, WebhookEndpoint

if TYPE_CHECKING:
    from wins.auth import Principal

# What a receiver can subscribe to: the public event stream (docs/architecture.md, "The event stream"). Families
# (`ticket.*`) and `*` also take types added later. Internal events (`auth.*`) are never sent, whatever is asked.
KNOWN_FAMILIES = ("ticket", "service", "counter", "branch", "device")
# Keys that would let a receiver follow or act on a customer's ticket: an event carrying one is never sent (no
# public event carries them today; this keeps a future one from leaking through the webhooks).
SECRET_KEYS = frozenset({"token", "tracking_token", "tracking_url", "secret", "password", "phone"})
DELIVERY_NAMESPACE = uuid.UUID("6f0c5a7e-0d5b-4c64-9b7e-57494e530017")


def check_url(raw: str) -> str:
    """A receiver's address: http or https, a host, no user name or password in it (they would end up in logs)."""
    url = raw.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationFailed(f"{url!r} is not a valid address; give e.g. https://example.org/wins-hook.") from None
    if parts.scheme not in ("http", "https"):
        raise ValidationFailed("A webhook address must start with http:// or https://.")
    if not parts.hostname:
        raise ValidationFailed("A webhook address needs a host name, e.g. https://example.org/wins-hook.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValidationFailed(
            "A webhook address must not contain a user name or password; the receiver checks the "
            "X-WINS-Signature header instead."
        )
    if parts.fragment:
        raise ValidationFailed("A webhook address cannot have a #fragment; remove it.")
    if port == 0:
        raise ValidationFailed("A webhook address cannot use port 0.")
    if any(ch.isspace() for ch in url):
        raise ValidationFailed("A webhook address cannot contain spaces.")
    host = parts.hostname.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not all(label and len(label) <= 63 for label in host.split(".")):
            raise ValidationFailed(f"{host!r} is not a valid host name.") from None
    return url


def check_event_types(types: list[str]) -> list[str]:
    chosen: list[str] = []
    for raw in types:
        name = raw.strip()
        family = name.split(".", 1)[0]
        if name.startswith(INTERNAL_PREFIX):
            raise ValidationFailed(f"{name!r} is internal to WINS and is never sent to webhooks.")
        if name != "*" and (family not in KNOWN_FAMILIES or name.count(".") != 1 or not name.split(".")[1]):
            raise ValidationFailed(
                f"Unknown event type {name!r}: use a type such as ticket.called, a family such as ticket.* "
                f"(families: {', '.join(KNOWN_FAMILIES)}), or * for all."
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise ValidationFailed("Choose at least one event type (or * for all).")
    return chosen


def wants(endpoint_types: list[str], event_type: str, data: dict[str, Any]) -> bool:
    """Whether an event goes to an endpoint subscribed to `endpoint_types`."""
    if event_type.startswith(INTERNAL_PREFIX) or _carries_secret(data):
        return False
    family = event_type.split(".", 1)[0] + ".*"
    return any(t in ("*", event_type, family) for t in endpoint_types)


def _carries_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k in SECRET_KEYS or _carries_secret(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_carries_secret(v) for v in value)
    return False


def signature(secret: str, body: bytes) -> str:
    """The X-WINS-Signature header value: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_id(endpoint_id: int, created_at: datetime, event_id: int) -> str:
    """The same id for every attempt of one event to one endpoint, so a receiver drops a redelivery (the
    endpoint's creation time keeps a re-created endpoint with a reused id from repeating old ids)."""
    return str(uuid.uuid5(DELIVERY_NAMESPACE, f"{endpoint_id}:{created_at.isoformat()}:{event_id}"))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def state(endpoint: WebhookEndpoint) -> str:
    if not endpoint.active:
        return "off"
    if endpoint.paused_at is not None:
        return "paused"
    return "retrying" if endpoint.failures else "active"


def endpoint_public(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return fields_of(
        WebhookPublic,
        endpoint,
        state=state(endpoint),
        next_attempt_at=_iso(endpoint.next_attempt_at),
        paused_at=_iso(endpoint.paused_at),
        created_at=endpoint.created_at.isoformat(),
    )


def delivery_public(delivery: WebhookDelivery) -> dict[str, Any]:
    return fields_of(WebhookDeliveryPublic, delivery, at=delivery.at.isoformat())


def list_endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def paused_endpoints(session: Session) -> list[WebhookEndpoint]:
    """Endpoints the deliverer gave up on (for the dashboard)."""
    query = select(WebhookEndpoint).where(WebhookEndpoint.active, WebhookEndpoint.paused_at.is_not(None))
    return list(session.scalars(query.order_by(WebhookEndpoint.id)))


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"No webhook {endpoint_id}; list them with GET /api/v1/webhooks.")
    return endpoint


def create_endpoint(
    session: Session, *, url: str, event_types: list[str], description: str = "", actor: Principal | None
) -> WebhookEndpoint:
    """Register a receiver. It is sent events from now on (not the history); its secret is in `.secret`."""
    endpoint = WebhookEndpoint(
        url=check_url(url),
        event_types=check_event_types(event_types),
        description=description.strip(),
        secret=secrets.token_hex(32),
        active=True,
        cursor=last_event_id(session),
        failures=0,
        last_error="",
    )
    session.add(endpoint)
    session.flush()
    record_change(session, actor, "webhook.created", {"webhook_id": endpoint.id, "url": endpoint.url})
    return endpoint


def update_endpoint(
    session: Session, endpoint_id: int, *, changes: dict[str, Any], actor: Principal | None
) -> WebhookEndpoint:
    """Change the address, the event types, the description, or switch it off and on."""
    endpoint = get_endpoint(session, endpoint_id)
    if "url" in changes:
        endpoint.url = check_url(changes["url"])
    if "event_types" in changes:
        endpoint.event_types = check_event_types(changes["event_types"])
    if "description" in changes:
        endpoint.description = changes["description"].strip()
    if "active" in changes:
        endpoint.active = bool(changes["active"])
    session.flush()
    record_change(session, actor, "webhook.updated", {"webhook_id": endpoint.id, "changes": sorted(changes)})
    return endpoint


def resume_endpoint(session: Session, endpoint_id: int, *, actor: Principal | None) -> WebhookEndpoint:
    """Deliver again to a paused endpoint, from the event it stopped at (nothing is skipped)."""
    endpoint = get_endpoint(session, endpoint_id)
    endpoint.paused_at = None
    endpoint.failures = 0
    endpoint.next_attempt_at = None
    endpoint.active = True
    session.flush()
    record_change(session, actor, "webhook.resumed", {"webhook_id": endpoint.id})
    return endpoint


def delete_endpoint(session: Session, endpoint_id: int, *, actor: Principal | None) -> None:
    endpoint = get_endpoint(session, endpoint_id)
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    session.delete(endpoint)
    session.flush()
    record_change(session, actor, "webhook.deleted", {"webhook_id": endpoint_id, "url": endpoint.url})


def recent_deliveries(session: Session, endpoint_id: int, *, limit: int = 50) -> list[WebhookDelivery]:
    get_endpoint(session, endpoint_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    return list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))
