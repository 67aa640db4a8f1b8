"""The branch picker: a staff member in several branches chooses the branch their pages and API calls act in.

The choice is remembered in a cookie (`wins.deps.BRANCH_COOKIE`, a year), which the pages, the REST calls of the
workspace's script and the event stream's WebSocket all send; a choice that is no longer allowed (the account
left that branch) is ignored. Accounts in one branch never see the picker (docs/staff-ui.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from wins.auth import acting_in
from wins.deps import BRANCH_COOKIE
from wins.web.pages import StaffPage, page_actor
from wins.web.session import set_cookie

router = APIRouter(include_in_schema=False)

REMEMBER_SECONDS = 365 * 24 * 3600


@router.post("/branch")
def choose_branch(
    request: Request,
    _: StaffPage,
    branch_id: Annotated[int, Form(ge=1, le=2**62)],
    next: Annotated[str, Form(max_length=500)] = "/staff",  # noqa: A002 - the form field name
) -> Response:
    """Act in another of your branches from now on (refused, 403, for a branch where you have no role)."""
    acting_in(page_actor(request), str(branch_id))  # raises when the account has no role there
    target = next if next.startswith("/") and not next.startswith("//") and "\\" not in next else "/staff"
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, BRANCH_COOKIE, str(branch_id), max_age=REMEMBER_SECONDS)
    return response
