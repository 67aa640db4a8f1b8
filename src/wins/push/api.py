from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from wins.deps import ReadSessionDep, SessionDep, SettingsDep
from wins.push import service
from wins.schemas import PushStatus, PushSubscribe, PushUnsubscribe

router = APIRouter(prefix="/public", tags=["public"])
STATIC = Path(__file__).parent / "static"


@router.get("/tickets/{tracking_token}/push", response_model=PushStatus)
def push_status(tracking_token: str, session: ReadSessionDep) -> dict[str, Any]:
    """Whether this ticket can have Web Push notifications, and the key the browser subscribes with."""
    return service.push_status(session, tracking_token)


@router.post("/tickets/{tracking_token}/push", response_model=PushStatus, status_code=201)
def push_subscribe(
    tracking_token: str, body: PushSubscribe, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """Notify this phone when few people are ahead and when the ticket is called (the subscription is deleted
    when the ticket ends)."""
    service.subscribe(
        session, tracking_token, endpoint=body.endpoint, p256dh=body.keys.p256dh, auth=body.keys.auth,
        language=body.language, settings=settings,
    )  # fmt: skip
    return service.push_status(session, tracking_token)


@router.post("/tickets/{tracking_token}/push/stop", status_code=204)
def push_unsubscribe(tracking_token: str, body: PushUnsubscribe, session: SessionDep) -> Response:
    """Stop notifying this phone about this ticket."""
    service.unsubscribe(session, tracking_token, endpoint=body.endpoint)
    return Response(status_code=204)


# The service worker and the page's script, from the app's own origin (a service worker must be; no CDN).
pages = APIRouter(include_in_schema=False)


@pages.get("/push/sw.js")
def service_worker() -> FileResponse:
    return FileResponse(STATIC / "sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@pages.get("/push/push.js")
def page_script() -> FileResponse:
    return FileResponse(STATIC / "push.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})
