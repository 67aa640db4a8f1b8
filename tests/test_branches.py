"""Many branches in one database, over real HTTP on a live server (SQLite and PostgreSQL): staff act only in the
branches where they have a role, a user in two branches switches between them, kiosks and displays see only
their own branch (REST, WebSocket and long-poll), and head office reports across branches (JSON and CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.support.seed import Seeded, _password_hash
from tests.support.server import LiveServer
from wins.branches.service import create_branch, get_branch
from wins.config import Settings
from wins.counters.service import create_counter
from wins.db import Database
from wins.devices.models import DeviceKind
from wins.devices.service import create_device
from wins.services.service import create_service
from wins.staff.membership import set_branch_roles
from wins.staff.models import Role, StaffUser
from wins.staff.service import issue_token


@dataclass
class Branches:
    """Branch A (the seeded one: services A, B, C, counters 1-4) and branch B ("North": service N, counter N1),
    each with a kiosk and a display; `alice` works in A, `bob` in B, `both` in A and B (staff everywhere)."""

    a: int
    b: int
    service_b: int
    counter_b: int
    tokens: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def branches(settings: Settings, seeded: Seeded) -> Branches:
    db = Database(settings)
    with db.session() as session:
        a_id = get_branch(session).id  # the seeded branch
        north = create_branch(session, name="North", timezone="Europe/Paris")
        service = create_service(session, values={"name": "North desk", "prefix": "N"}, branch_id=north.id, actor=None)
        counter = create_counter(session, name="N1", service_ids=[service.id], branch_id=north.id, actor=None)
        out = Branches(a=a_id, b=north.id, service_b=service.id, counter_b=counter.id)
        for username, roles in (
            ("alice", {a_id: Role.staff}),
            ("bob", {north.id: Role.manager}),
            ("both", {a_id: Role.staff, north.id: Role.staff}),
        ):
            user = StaffUser(username=username, password_hash=_password_hash(), role=Role.staff)
            session.add(user)
            session.flush()
            set_branch_roles(session, user.id, roles=roles, actor=None)
            out.tokens[username] = issue_token(user, secret_key=settings.effective_secret_key)
        _, out.tokens["kiosk_b"] = create_device(
            session, name="North kiosk", kind=DeviceKind.kiosk, branch_id=north.id, actor=None
        )
        _, out.tokens["display_b"] = create_device(
            session, name="North display", kind=DeviceKind.display, branch_id=north.id, actor=None
        )
    db.dispose()
    out.tokens.update(seeded.tokens)
    return out


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=20) as client:
        yield client


def _auth(branches: Branches, who: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {branches.tokens[who]}", **headers}


def _issue(http: httpx.Client, branches: Branches, who: str, service_id: int) -> dict[str, Any]:
    r = http.post("/api/v1/tickets", json={"service_id": service_id}, headers=_auth(branches, who))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_staff_member_of_one_branch_can_neither_call_nor_see_another(
    http: httpx.Client, branches: Branches, seeded: Seeded
) -> None:
    ticket_a = _issue(http, branches, "kiosk", seeded.services["A"])
    counter_a = seeded.counters["1"]

    r = http.post(f"/api/v1/counters/{counter_a}/call-next", headers=_auth(branches, "bob"))
    assert r.status_code == 403 and "no role" in r.json()["detail"], r.text
    r = http.post(f"/api/v1/counters/{counter_a}/call/{ticket_a['id']}", headers=_auth(branches, "bob"))
    assert r.status_code == 403, r.text
    r = http.get(f"/api/v1/tickets/{ticket_a['id']}", headers=_auth(branches, "bob"))
    assert r.status_code == 403 and "branch" in r.json()["detail"], r.text
    r = http.post(f"/api/v1/tickets/{ticket_a['id']}/cancel", headers=_auth(branches, "bob"))
    assert r.status_code == 403, r.text
    r = http.post(f"/api/v1/counters/{counter_a}/open", headers=_auth(branches, "bob"))
    assert r.status_code == 403, r.text
    # Asking to act in branch A outright is refused with what to do next.
    r = http.get("/api/v1/queue", headers=_auth(branches, "bob", **{"X-WINS-Branch": str(branches.a)}))
    assert r.status_code == 403 and "Ask an admin" in r.json()["detail"], r.text
    # A manager of B cannot change A's services either.
    r = http.patch(f"/api/v1/services/{seeded.services['A']}", json={"name": "Taken"}, headers=_auth(branches, "bob"))
    assert r.status_code == 403, r.text

    # What bob sees is branch B only.
    queue = http.get("/api/v1/queue", headers=_auth(branches, "bob")).json()
    assert [s["id"] for s in queue["services"]] == [branches.service_b]
    services = http.get("/api/v1/services", headers=_auth(branches, "bob")).json()
    assert [s["id"] for s in services] == [branches.service_b]
    counters = http.get("/api/v1/counters", headers=_auth(branches, "bob")).json()
    assert [c["id"] for c in counters] == [branches.counter_b]
    assert http.get("/api/v1/branch", headers=_auth(branches, "bob")).json()["name"] == "North"

    # And the seeded single-branch accounts still do everything in A, exactly as before.
    called = http.post(f"/api/v1/counters/{counter_a}/call-next", headers=_auth(branches, "staff"))
    assert called.status_code == 200 and called.json()["id"] == ticket_a["id"]
    # Staff may issue only in their branches; a kiosk only for its own branch's services.
    r = http.post("/api/v1/tickets", json={"service_id": seeded.services["A"]}, headers=_auth(branches, "bob"))
    assert r.status_code == 403, r.text
    r = http.post("/api/v1/tickets", json={"service_id": branches.service_b}, headers=_auth(branches, "kiosk"))
    assert r.status_code == 404 and "branch" in r.json()["detail"], r.text


def test_a_user_in_two_branches_switches_between_them(http: httpx.Client, branches: Branches, seeded: Seeded) -> None:
    ticket_a = _issue(http, branches, "kiosk", seeded.services["A"])
    ticket_b = _issue(http, branches, "kiosk_b", branches.service_b)
    # Without a choice: the first branch (A).
    assert http.get("/api/v1/branch", headers=_auth(branches, "both")).json()["id"] == branches.a
    in_b = _auth(branches, "both", **{"X-WINS-Branch": str(branches.b)})
    queue_b = http.get("/api/v1/queue", headers=in_b).json()
    assert [s["id"] for s in queue_b["services"]] == [branches.service_b]
    assert [
        c["id"] for c in http.get("/api/v1/counters?branch=" + str(branches.b), headers=_auth(branches, "both")).json()
    ] == [branches.counter_b]
    # Calls in both branches, each at that branch's counter.
    got_b = http.post(f"/api/v1/counters/{branches.counter_b}/call-next", headers=in_b)
    assert got_b.status_code == 200 and got_b.json()["id"] == ticket_b["id"]
    # One person, one counter at a time (wins.counters.seating): B's customer is finished before moving to A.
    done = http.post(f"/api/v1/tickets/{ticket_b['id']}/complete", headers=in_b)
    assert done.status_code == 200, done.text
    got_a = http.post(f"/api/v1/counters/{seeded.counters['1']}/call-next", headers=_auth(branches, "both"))
    assert got_a.status_code == 200 and got_a.json()["id"] == ticket_a["id"]
    # A counter of one branch never calls a ticket of the other.
    other = _issue(http, branches, "kiosk", seeded.services["A"])
    r = http.post(f"/api/v1/counters/{branches.counter_b}/call/{other['id']}", headers=in_b)
    assert r.status_code == 404, r.text


def _events_of(http: httpx.Client, branches: Branches, who: str, since: int, **query: str) -> list[dict[str, Any]]:
    params = {"since": str(since), "timeout": "0", **query}
    r = http.get("/api/v1/events", params=params, headers=_auth(branches, who))
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


def test_kiosks_and_displays_get_only_their_branch_events(
    http: httpx.Client, live_server: LiveServer, branches: Branches, seeded: Seeded
) -> None:
    since = int(http.get("/health").json()["last_event_id"])
    ws_url = live_server.url.replace("http://", "ws://") + f"/api/v1/events/ws?since={since}"
    with (
        connect(ws_url, additional_headers=_auth(branches, "display")) as display_a,
        connect(ws_url, additional_headers=_auth(branches, "display_b")) as display_b,
    ):
        assert json.loads(display_a.recv(timeout=10))["type"] == "hello"
        assert json.loads(display_b.recv(timeout=10))["type"] == "hello"
        in_b = _issue(http, branches, "kiosk_b", branches.service_b)
        http.post(f"/api/v1/counters/{branches.counter_b}/call-next", headers=_auth(branches, "bob"))
        in_a = _issue(http, branches, "kiosk", seeded.services["A"])
        last_b = _issue(http, branches, "kiosk_b", branches.service_b)  # after A's: B's screen reads up to it

        def read_until(ws: Any, ticket_id: int) -> list[dict[str, Any]]:
            seen = []
            while True:
                event = json.loads(ws.recv(timeout=10))
                if event.get("type") == "ping":
                    continue
                seen.append(event)
                if event["type"] == "ticket.issued" and event["data"]["id"] == ticket_id:
                    return seen

        got_a = read_until(display_a, in_a["id"])
        got_b = read_until(display_b, last_b["id"])
    assert {e["branch_id"] for e in got_a} == {branches.a}
    assert {e["branch_id"] for e in got_b} == {branches.b}
    tickets_b = [e for e in got_b if e["type"].startswith("ticket.")]
    assert [e["type"] for e in tickets_b] == ["ticket.issued", "ticket.called", "ticket.issued"]
    assert tickets_b[0]["data"]["id"] == in_b["id"]

    # Long-poll: the same split, for displays and kiosks alike.
    for who, branch in (("display", branches.a), ("kiosk", branches.a), ("display_b", branches.b)):
        events = _events_of(http, branches, who, since)
        assert events and {e["branch_id"] for e in events} == {branch}, who
    # A device cannot ask for another branch's stream, nor for all of them.
    r = http.get(
        "/api/v1/events", params={"since": since, "timeout": 0, "branch": "all"}, headers=_auth(branches, "display")
    )
    assert r.status_code == 403, r.text
    # Queue snapshots likewise.
    queue_b = http.get("/api/v1/queue", headers=_auth(branches, "display_b")).json()
    assert queue_b["branch"]["id"] == branches.b
    assert [t["number"] for s in queue_b["services"] for t in s["tickets"]] == [last_b["number"]]

    # Staff: the branch they act in; head office may ask for every branch.
    assert {e["branch_id"] for e in _events_of(http, branches, "bob", since)} == {branches.b}
    everything = _events_of(http, branches, "admin", since, branch="all")
    assert {e["branch_id"] for e in everything} == {branches.a, branches.b}
    r = http.get(
        "/api/v1/events", params={"since": since, "timeout": 0, "branch": "all"}, headers=_auth(branches, "bob")
    )
    assert r.status_code == 403 and "head-office" in r.json()["detail"]


def test_a_staff_socket_asking_for_another_branch_is_refused(live_server: LiveServer, branches: Branches) -> None:
    from websockets.exceptions import ConnectionClosed

    url = live_server.url.replace("http://", "ws://") + f"/api/v1/events/ws?branch={branches.a}"
    with connect(url, additional_headers=_auth(branches, "bob")) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


def test_head_office_report_across_branches_with_csv(http: httpx.Client, branches: Branches, seeded: Seeded) -> None:
    for _ in range(3):
        _issue(http, branches, "kiosk", seeded.services["A"])
    for _ in range(2):
        _issue(http, branches, "kiosk_b", branches.service_b)
    called = http.post(f"/api/v1/counters/{branches.counter_b}/call-next", headers=_auth(branches, "bob")).json()
    http.post(f"/api/v1/tickets/{called['id']}/no-show", headers=_auth(branches, "bob"))

    report = http.get("/api/v1/reports/branches", headers=_auth(branches, "admin"))
    assert report.status_code == 200, report.text
    rows = {row["branch_id"]: row for row in report.json()["branches"]}
    assert rows[branches.a]["issued"] == 3 and rows[branches.b]["issued"] == 2
    assert rows[branches.b]["no_show"] == 1 and rows[branches.b]["no_show_rate"] == 1.0
    assert rows[branches.b]["wait_avg"] is not None
    assert report.json()["total"]["issued"] == 5

    r = http.get("/api/v1/reports/branches.csv", headers=_auth(branches, "admin"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0][:3] == ["branch_id", "branch", "issued"]
    by_name = {line[1]: line for line in table[1:]}
    assert by_name["North"][2] == "2" and by_name["Test Branch"][2] == "3" and by_name["All branches"][2] == "5"

    # Not for staff of one branch, nor for managers; managers get their own branch's report.
    for who in ("bob", "manager"):
        assert http.get("/api/v1/reports/branches", headers=_auth(branches, who)).status_code == 403
    mine = http.get(f"/api/v1/reports/summary?branch_id={branches.b}", headers=_auth(branches, "bob"))
    assert mine.status_code == 200 and mine.json()["total"]["issued"] == 2, mine.text
    r = http.get(f"/api/v1/reports/summary?branch_id={branches.a}", headers=_auth(branches, "bob"))
    assert r.status_code == 403, r.text
    r = http.get(f"/api/v1/reports/services.csv?branch_id={branches.b}", headers=_auth(branches, "bob"))
    assert r.status_code == 200 and "North desk" in r.text
    # A single-branch manager's report needs no branch id.
    assert http.get("/api/v1/reports/summary", headers=_auth(branches, "manager")).json()["total"]["issued"] == 3


def test_upgrading_a_populated_single_branch_database_changes_nothing_for_its_users(
    database_url: str, settings: Settings
) -> None:
    from alembic import command
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from tests.support.seed import seed
    from wins import migrate
    from wins.app import create_app

    data = seed(settings)  # last year's site: one branch, four accounts, services, counters, devices
    command.downgrade(migrate.alembic_config(database_url), "0007")
    migrate.upgrade(database_url, "head")
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT u.username, r.role, r.branch_id FROM staff_branch_roles r"
                    " JOIN staff_users u ON u.id = r.staff_id ORDER BY u.username"
                )
            ).all()
            (branch_id,) = conn.execute(text("SELECT id FROM branches")).one()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("admin", "admin", branch_id),
        ("manager", "manager", branch_id),
        ("reception", "reception", branch_id),
        ("staff", "staff", branch_id),
        ("staff2", "staff", branch_id),
    ]
    with TestClient(create_app(settings)) as client:
        staff = {"Authorization": f"Bearer {data.tokens['staff']}"}
        kiosk = {"Authorization": f"Bearer {data.tokens['kiosk']}"}
        ticket = client.post("/api/v1/tickets", json={"service_id": data.services["A"]}, headers=kiosk).json()
        called = client.post(f"/api/v1/counters/{data.counters['1']}/call-next", headers=staff)
        assert called.status_code == 200 and called.json()["id"] == ticket["id"]
        queue = client.get("/api/v1/queue", headers=staff).json()
        assert {s["id"] for s in queue["services"]} == set(data.services.values())
        manager = {"Authorization": f"Bearer {data.tokens['manager']}"}
        assert (
            client.patch(f"/api/v1/services/{data.services['C']}", json={"name": "Docs"}, headers=manager).status_code
            == 200
        )
        # The workspace of a single-branch site shows no branch picker.
        client.get("/login")
        form = {
            "username": "staff",
            "password": "correct-horse-battery",
            "csrf_token": client.cookies["wins_login_csrf"],
        }
        assert client.post("/login", data=form, follow_redirects=False).status_code == 303
        page = client.get("/staff")
        assert page.status_code == 200 and "branch-picker" not in page.text


def test_the_workspace_picker_switches_and_remembers_the_branch(
    http: httpx.Client, branches: Branches, seeded: Seeded, settings: Settings
) -> None:
    import re

    from tests.support.seed import PASSWORD

    del seeded, settings
    with httpx.Client(base_url=str(http.base_url), timeout=20, follow_redirects=True) as browser:
        browser.get("/login")
        form = {"username": "both", "password": PASSWORD, "csrf_token": browser.cookies["wins_login_csrf"]}
        assert browser.post("/login", data=form).status_code == 200
        page = browser.get("/staff")
        assert 'id="branch-picker"' in page.text and "North" in page.text
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert csrf is not None
        switched = browser.post(
            "/branch", data={"csrf_token": csrf.group(1), "branch_id": str(branches.b), "next": "/staff"}
        )
        assert switched.status_code == 200
        assert f'<option value="{branches.b}" selected>North</option>' in switched.text
        assert "Counter N1" in switched.text and "Counter 1<" not in switched.text
        # The page's own API calls (session cookie) act in the chosen branch too.
        assert browser.get("/api/v1/branch").json()["id"] == branches.b
        # A branch where the account has no role is refused.
        refused = browser.post("/branch", data={"csrf_token": csrf.group(1), "branch_id": "999999"})
        assert refused.status_code == 403
    # A single-branch account sees no picker.
    with httpx.Client(base_url=str(http.base_url), timeout=20, follow_redirects=True) as browser:
        browser.get("/login")
        form = {"username": "alice", "password": PASSWORD, "csrf_token": browser.cookies["wins_login_csrf"]}
        assert browser.post("/login", data=form).status_code == 200
        assert "branch-picker" not in browser.get("/staff").text


@contextmanager
def _web_sign_in(base_url: str, username: str) -> Iterator[httpx.Client]:
    from tests.support.seed import PASSWORD

    with httpx.Client(base_url=base_url, timeout=20, follow_redirects=True) as browser:
        browser.get("/login")
        form = {"username": username, "password": PASSWORD, "csrf_token": browser.cookies["wins_login_csrf"]}
        assert browser.post("/login", data=form).status_code == 200
        yield browser


def test_pages_act_in_the_branch_of_what_they_show(http: httpx.Client, branches: Branches, settings: Settings) -> None:
    """Issue 15: no page falls back to the first branch. bob is a manager in North only (his own role is staff)."""
    db = Database(settings)
    with db.session() as session:
        # Branch A has a ticket printer, North has none.
        branch_a = get_branch(session, branches.a)
        branch_a.settings = {**branch_a.settings, "printer_url": "tcp://127.0.0.1:9"}
        # carol: staff in A, manager in North; her own role is manager (what the old board check looked at).
        carol = StaffUser(username="carol", password_hash=_password_hash(), role=Role.manager)
        session.add(carol)
        session.flush()
        set_branch_roles(session, carol.id, roles={branches.a: Role.staff, branches.b: Role.manager}, actor=None)
    db.dispose()
    with _web_sign_in(str(http.base_url), "bob") as bob:
        # The display board: North's, allowed by bob's manager role *there* (his own role is staff).
        board = bob.get("/display")
        assert board.status_code == 200, board.text[:300]
        assert "<title>North — display</title>" in board.text
        # Opening hours: North's services, not the first branch's.
        hours = bob.get("/admin/hours")
        assert hours.status_code == 200 and "North desk" in hours.text and "General" not in hours.text
        # A retire page of branch A's service or counter is not his to see.
        assert bob.get(f"/admin/services/{branches.service_b}/retire").status_code == 200
        general = http.get("/api/v1/services", headers=_auth(branches, "admin")).json()[0]["id"]
        assert bob.get(f"/admin/services/{general}/retire").status_code == 403
        assert bob.get(f"/admin/counters/{branches.counter_b}/retire").status_code == 200
        counter_a = http.get("/api/v1/counters", headers=_auth(branches, "admin")).json()[0]["id"]
        assert bob.get(f"/admin/counters/{counter_a}/retire").status_code == 403
    with _web_sign_in(str(http.base_url), "alice") as alice:
        assert alice.get("/display").status_code == 403  # staff in A: no board
    with _web_sign_in(str(http.base_url), "carol") as carol_web:
        # She lands on the workspace (staff in A, the branch she acts in), not on a manager page she may not use.
        assert carol_web.get("/").url.path == "/staff"
        assert carol_web.get("/display").status_code == 403  # acting in A, where she is staff
        page = carol_web.get("/staff")
        csrf = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        carol_web.post("/branch", data={"csrf_token": csrf, "branch_id": str(branches.b), "next": "/staff"})
        board = carol_web.get("/display")  # North picked: her manager role there counts
        assert board.status_code == 200 and "<title>North — display</title>" in board.text
        assert carol_web.get("/").url.path == "/dashboard"  # a manager there
        assert carol_web.get("/admin").url.path == "/admin/services"
    # A web kiosk checks its own branch's printer.
    for token, printer in ((branches.tokens["kiosk"], True), (branches.tokens["kiosk_b"], False)):
        page = http.get("/kiosk", headers={"Authorization": f"Bearer {token}"})
        assert page.status_code == 200, page.text[:300]
        config = page.text.split('id="kiosk-config">', 1)[1].split("</script>", 1)[0]
        assert json.loads(config)["printer"] is printer
