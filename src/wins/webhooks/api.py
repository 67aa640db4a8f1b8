from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from wins.deps import AdminDep, ObjectId, ReadSessionDep, SessionDep
from wins.schemas import WebhookCreate, WebhookCreated, WebhookDeliveryPublic, WebhookPublic, WebhookUpdate
from wins.webhooks import service

router = APIRouter(tags=["webhooks"])


@router.get("/webhooks", response_model=list[WebhookPublic])
def list_webhooks(_: AdminDep, session: ReadSessionDep) -> list[dict[str, Any]]:
    """Registered webhook endpoints with their delivery state (admin). Secrets are never shown again."""
    return [service.endpoint_public(e) for e in service.list_endpoints(session)]


@router.post("/webhooks", response_model=WebhookCreated, status_code=201)
def create_webhook(body: WebhookCreate, principal: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Register an endpoint (admin). It receives the chosen events from now on, each a signed JSON POST; the
    answer carries the signing secret, shown this once."""
    endpoint = service.create_endpoint(
        session, url=body.url, event_types=body.event_types, description=body.description, actor=principal
    )
    return {**service.endpoint_public(endpoint), "secret": endpoint.secret}


@router.get("/webhooks/{webhook_id}", response_model=WebhookPublic)
def get_webhook(webhook_id: ObjectId, _: AdminDep, session: ReadSessionDep) -> dict[str, Any]:
    """One endpoint (admin)."""
    return service.endpoint_public(service.get_endpoint(session, webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookPublic)
def update_webhook(
    webhook_id: ObjectId, body: WebhookUpdate, principal: AdminDep, session: SessionDep
) -> dict[str, Any]:
    """Change an endpoint's address, event types or description, or switch it off (`active: false`) and on."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    return service.endpoint_public(service.update_endpoint(session, webhook_id, changes=changes, actor=principal))


@router.post("/webhooks/{webhook_id}/resume", response_model=WebhookPublic)
def resume_webhook(webhook_id: ObjectId, principal: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Deliver again to a paused endpoint, from the event where it stopped (admin)."""
    return service.endpoint_public(service.resume_endpoint(session, webhook_id, actor=principal))


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: ObjectId, principal: AdminDep, session: SessionDep) -> Response:
    """Remove an endpoint and its delivery log (admin)."""
    service.delete_endpoint(session, webhook_id, actor=principal)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[WebhookDeliveryPublic])
def list_deliveries(
    webhook_id: ObjectId, _: AdminDep, session: ReadSessionDep, limit: int = 50
) -> list[dict[str, Any]]:
    """The endpoint's latest delivery attempts, newest first (admin)."""
    rows = service.recent_deliveries(session, webhook_id, limit=max(1, min(limit, 500)))
    return [service.delivery_public(d) for d in rows]
