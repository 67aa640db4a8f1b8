"""The admin page of the webhooks: endpoints, their state and delivery log; add, switch off, resume, delete.

Forms post here and call the same service functions as the REST API (wins.webhooks.api)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from wins.deps import ObjectId, SessionDep
from wins.errors import WinsError
from wins.web.pages import AdminPage, form_error, page_actor, redirect_with_flash, render
from wins.webhooks import service
from wins.webhooks.service import KNOWN_FAMILIES

router = APIRouter(prefix="/admin/webhooks", include_in_schema=False)


def _page(request: Request, session: Session, *, created: dict[str, Any] | None = None) -> Response:
    endpoints = service.list_endpoints(session)
    deliveries = {e.id: service.recent_deliveries(session, e.id, limit=20) for e in endpoints}
    return render(
        request,
        "admin/webhooks.html",
        {
            "title": "Webhooks",
            "endpoints": [service.endpoint_public(e) for e in endpoints],
            "deliveries": {k: [service.delivery_public(d) for d in v] for k, v in deliveries.items()},
            "families": KNOWN_FAMILIES,
            "created": created,
        },
    )


@router.get("")
def webhooks_page(request: Request, _: AdminPage, session: SessionDep) -> Response:
    return _page(request, session)


async def _fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


def _types(raw: str) -> list[str]:
    return [t.strip() for t in raw.replace(";", ",").split(",") if t.strip()]


@router.post("")
async def add_webhook(request: Request, _: AdminPage, session: SessionDep) -> Response:
    fields = await _fields(request)
    try:
        endpoint = service.create_endpoint(
            session,
            url=fields.get("url", ""),
            event_types=_types(fields.get("event_types", "")),
            description=fields.get("description", "")[:200],
            actor=page_actor(request),
        )
    except WinsError as exc:
        return form_error(request, session, exc, lambda: _page(request, session))
    return _page(request, session, created={"url": endpoint.url, "secret": endpoint.secret})


def _act(request: Request, session: Session, endpoint_id: int, action: str) -> Response:
    actor = page_actor(request)
    try:
        if action == "resume":
            service.resume_endpoint(session, endpoint_id, actor=actor)
            note = "Delivery resumes where it stopped."
        elif action == "delete":
            service.delete_endpoint(session, endpoint_id, actor=actor)
            note = "Webhook removed."
        else:
            on = action == "on"
            service.update_endpoint(session, endpoint_id, changes={"active": on}, actor=actor)
            note = "Webhook switched on." if on else "Webhook switched off; events wait for it until it is on."
    except WinsError as exc:
        return form_error(request, session, exc, lambda: _page(request, session))
    return redirect_with_flash("/admin/webhooks", note)


@router.post("/{endpoint_id}/resume")
def resume(request: Request, endpoint_id: ObjectId, _: AdminPage, session: SessionDep) -> Response:
    return _act(request, session, endpoint_id, "resume")


@router.post("/{endpoint_id}/on")
def switch_on(request: Request, endpoint_id: ObjectId, _: AdminPage, session: SessionDep) -> Response:
    return _act(request, session, endpoint_id, "on")


@router.post("/{endpoint_id}/off")
def switch_off(request: Request, endpoint_id: ObjectId, _: AdminPage, session: SessionDep) -> Response:
    return _act(request, session, endpoint_id, "off")


@router.post("/{endpoint_id}/delete")
def remove(request: Request, endpoint_id: ObjectId, _: AdminPage, session: SessionDep) -> Response:
    return _act(request, session, endpoint_id, "delete")
