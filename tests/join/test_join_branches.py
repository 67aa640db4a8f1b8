"""Remote join with several branches (SQLite and PostgreSQL): each branch has its own join page, link, key, rate
limit and QR code; /join lets the customer pick among the branches offering it; the poster and the display's
link are the caller's branch's. And the phone pages in the customer's language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.join.test_join import _last_token
from tests.support.seed import Seeded
from tests.test_branches import Branches, branches  # noqa: F401 - the fixture
from wins.app import create_app
from wins.config import Settings
from wins.join import service as join
from wins.push.notifier import called_message
from wins.staff.models import StaffUser
from wins.staff.security import sign


@pytest.fixture
def bapi(settings: Settings, seeded: Seeded, branches: Branches) -> Iterator[Api]:  # noqa: F811
    with TestClient(create_app(settings.model_copy(update={"join_per_client_per_hour": 2}))) as client:
        api = Api(client, seeded)
        api.data.tokens.update(branches.tokens)
        yield api


def _settings(api: Api, who: str, **values: object) -> None:
    r = api.http.patch("/api/v1/branch", json={"settings": values}, headers=api.auth(who))
    assert r.status_code == 200, r.text


def test_join_picks_a_branch_and_each_branch_has_its_page(bapi: Api, branches: Branches) -> None:  # noqa: F811
    picker = bapi.client.get("/join")
    assert picker.status_code == 200 and "Choose where you are" in picker.text
    assert (
        f'href="/join/b/{branches.a}?lang=en"' in picker.text and f'href="/join/b/{branches.b}?lang=en"' in picker.text
    )
    north = bapi.client.get(f"/join/b/{branches.b}")
    assert "North desk" in north.text and "General" not in north.text and "North" in north.text
    home = bapi.client.get(f"/join/b/{branches.a}")
    assert "General" in home.text and "North desk" not in home.text
    # A branch that switches remote join off leaves the picker and says so on its own page.
    _settings(bapi, "bob", remote_join=False)  # bob manages North
    only_one = bapi.client.get("/join")  # one branch left offering it: its page at once, nothing to pick
    assert "Choose where you are" not in only_one.text and "Take a ticket for General" in only_one.text
    assert "not offered here" in bapi.client.get(f"/join/b/{branches.b}").text
    r = bapi.client.post(f"/join/{branches.service_b}", follow_redirects=False)
    assert r.status_code == 404 and "kiosk" in r.text
    # A join in branch A still works, and its ticket is A's.
    r = bapi.client.post(f"/join/{bapi.data.services['A']}", follow_redirects=False)
    assert r.status_code == 303
    assert bapi.client.get(f"/join/b/{10**6}").status_code == 404


def test_keys_links_and_rate_limits_are_per_branch(bapi: Api, branches: Branches) -> None:  # noqa: F811
    _settings(bapi, "bob", join_key_required=True)
    north = bapi.get("/api/v1/join/link", "display_b")
    home = bapi.get("/api/v1/join/link", "display")
    assert north["url"].startswith(f"http://testserver/join/b/{branches.b}?k=") and north["code"]
    assert home["url"] == f"http://testserver/join/b/{branches.a}" and home["code"] is None
    assert north["qr"].startswith("data:image/svg+xml;base64,")
    qr = bapi.http.get("/api/v1/join/qr.svg", headers=bapi.auth("display_b"))
    assert qr.status_code == 200 and qr.text.startswith("<?xml") or "<svg" in qr.text
    # North's page asks for the code; the code typed by hand (any case, spaces) works, another branch's key not.
    ask = bapi.client.get(f"/join/b/{branches.b}")
    assert (
        'name="k"' in ask.text and "Code shown on the waiting-room screen" in ask.text and "North desk" not in ask.text
    )
    wrong = bapi.client.get(f"/join/b/{branches.b}", params={"k": "0000000000"})
    assert wrong.status_code == 403 and "Scan the QR code" in wrong.text
    in_french = bapi.client.get(f"/join/b/{branches.b}", params={"k": "0000000000", "lang": "fr"})
    assert in_french.status_code == 403 and "Ce code a expiré" in in_french.text and 'id="join-code"' in in_french.text
    typed = north["code"].lower()
    listed = bapi.client.get(f"/join/b/{branches.b}", params={"k": typed})
    assert listed.status_code == 200 and "North desk" in listed.text
    foreign = join.join_key("x" * 40, branches.a, minutes=60)
    r = bapi.client.post(f"/join/{branches.service_b}", data={"k": foreign}, follow_redirects=False)
    assert r.status_code == 403
    key = north["url"].split("?k=")[1]
    for _ in range(2):
        r = bapi.client.post(f"/join/{branches.service_b}", data={"k": typed}, follow_redirects=False)
        assert r.status_code == 303, r.text
    r = bapi.client.post(f"/join/{branches.service_b}", data={"k": key}, follow_redirects=False)
    assert r.status_code == 429 and "several tickets from this device" in r.text
    # The same phone's limit in North does not use up its joins in branch A.
    r = bapi.client.post(f"/join/{bapi.data.services['A']}", follow_redirects=False)
    assert r.status_code == 303
    assert _last_token(bapi)
    # Staff below manager, and managers of another branch, get no link; a manager gets their acting branch's.
    assert bapi.http.get("/api/v1/join/link", headers=bapi.auth("both")).status_code == 403
    assert bapi.get("/api/v1/join/link", "bob")["branch_id"] == branches.b
    r = bapi.http.get("/api/v1/join/link", headers={**bapi.auth("admin"), "X-WINS-Branch": str(branches.b)})
    assert r.status_code == 200 and r.json()["branch_id"] == branches.b


def _poster(api: Api, who: str, branch: int | None = None) -> str:
    """The poster page as `who`'s signed-in browser gets it, acting in `branch` (the branch picker's cookie)."""
    app: Any = api.client.app
    with app.state.db.session(write=False) as session:
        user = session.get(StaffUser, api.data.users[who])
        assert user is not None
        payload = {"sid": user.id, "v": user.token_version, "csrf": "csrf-for-tests"}
    cookie = "wins_session=" + sign(app.state.settings.effective_secret_key, "web-session", payload)
    if branch is not None:
        cookie += f"; wins_branch={branch}"  # the branch picker's choice
    r = api.client.get("/admin/join-poster", headers={"Cookie": cookie})
    assert r.status_code == 200, r.text
    return str(r.text)


def test_the_poster_is_the_acting_branchs(bapi: Api, branches: Branches) -> None:  # noqa: F811
    assert f"/join/b/{branches.a}" in _poster(bapi, "admin")
    text = _poster(bapi, "admin", branches.b)
    assert f"/join/b/{branches.b}" in text and 'src="data:image/svg+xml;base64,' in text


def test_a_single_branch_site_keeps_the_short_join_link(api: Api) -> None:
    link = api.get("/api/v1/join/link", "display")
    assert link["url"] == "http://testserver/join" and link["branch"] == "Test Branch"
    assert "Take a ticket for General" in api.client.get("/join").text


def test_the_phone_pages_speak_the_customers_language(api: Api) -> None:
    de = {"Accept-Language": "xx, de-AT;q=0.8, fr;q=0.5"}
    text = api.client.get("/join", headers=de).text
    assert 'lang="de"' in text and "Nummer ziehen für General" in text and 'aria-current="true">Deutsch' in text
    assert "Prendre un ticket pour General" in api.client.get("/join?lang=fr", headers=de).text
    r = api.client.post(f"/join/{api.data.services['A']}", data={"lang": "pt"}, follow_redirects=False)
    track = api.client.get(r.headers["location"], headers=de)  # the ticket's language wins over the browser's
    assert "A sua senha" in track.text and 'lang="pt"' in track.text
    assert "Avisar-me quando estiver quase na minha vez" in track.text  # the "notify me" words ride along
    assert called_message("pt", "A001", "3", "/t/x")["body"] == "Dirija-se a 3"  # and so does the notification
    assert "Il suo numero" in api.client.get(r.headers["location"] + "?lang=it").text
    unknown = api.client.get(r.headers["location"] + "?lang=zz", headers={"Accept-Language": "ja"})
    assert "A sua senha" in unknown.text  # an unknown choice falls back to the ticket's language
    missing = api.client.get("/t/nope", headers={"Accept-Language": "nl"})
    assert missing.status_code == 404 and "Nummer niet gevonden" in missing.text
