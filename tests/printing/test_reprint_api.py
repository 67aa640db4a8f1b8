"""POST /api/v1/tickets/{id}/reprint with the in-process app and the printer emulator."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.support.printer_emulator import PrinterEmulator


def set_printer(api: Api, url: str | None) -> None:
    r = api.client.patch("/api/v1/branch", json={"settings": {"printer_url": url}}, headers=api.auth("manager"))
    assert r.status_code == 200, r.text


def reprint(api: Api, ticket_id: int, who: str = "staff") -> Any:
    return api.client.post(f"/api/v1/tickets/{ticket_id}/reprint", headers=api.auth(who))


def test_reprint_prints_the_tickets_slip(api: Api, emulator: PrinterEmulator) -> None:
    set_printer(api, emulator.url)
    api.issue("A")
    ticket = api.issue("A", language="fr")
    r = reprint(api, ticket["id"])
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "printer_state": "online", "message": "Printed.", "attempts": 1, "paper_low": False}
    job = emulator.wait_for_jobs(1)[0]
    assert f"{ticket['number']}\n".encode() in job
    assert b"Test Branch" in job and b"General" in job
    assert "Votre numéro".encode("cp858") in job and "Personnes avant vous : 1".encode("cp858") in job
    assert b"1P0" + ticket["tracking_url"].encode() in job  # the QR code leads to the tracking page
    assert _audited(api, ticket["id"]) == [("ticket.reprint", api.data.users["staff"])]


def _audited(api: Api, ticket_id: int) -> list[tuple[str, int | None]]:
    from sqlalchemy import select

    from wins.audit.models import AuditEntry

    db = api.client.app.state.db  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.staff_id).where(
                AuditEntry.ticket_id == ticket_id, AuditEntry.action == "ticket.reprint"
            )
        ).all()
    return [tuple(r) for r in rows]


def test_printer_faults_answer_503_and_leave_the_ticket_alone(api: Api, emulator: PrinterEmulator) -> None:
    set_printer(api, emulator.url)
    ticket = api.issue("B")
    before = api.client.get(f"/api/v1/tickets/{ticket['id']}", headers=api.auth("staff")).json()

    emulator.paper = "out"
    r = reprint(api, ticket["id"])
    assert r.status_code == 503
    body = r.json()
    assert body["code"] == "printer_fault" and body["ok"] is False and body["printer_state"] == "paper_out"
    assert "out of paper" in body["detail"]

    emulator.paper = "ok"
    emulator.refuse_connections()
    r = reprint(api, ticket["id"])
    assert r.status_code == 503 and r.json()["printer_state"] == "offline"
    assert "connection refused" in r.json()["detail"]

    emulator.accept_connections()
    emulator.drop_mid_job(after=100, times=5)
    r = reprint(api, ticket["id"])
    assert r.status_code == 503 and "connection dropped" in r.json()["detail"]

    after = api.client.get(f"/api/v1/tickets/{ticket['id']}", headers=api.auth("staff")).json()
    assert after == before
    emulator.wait_idle()
    assert emulator.jobs == []


def test_the_server_setting_is_the_fallback(api: Api, emulator: PrinterEmulator) -> None:
    ticket = api.issue("A")
    r = reprint(api, ticket["id"])
    assert r.status_code == 409 and r.json()["code"] == "printer_not_configured"
    assert "WINS_PRINTER_URL" in r.json()["detail"]
    api.client.app.state.settings.printer_url = emulator.url  # type: ignore[attr-defined]
    assert reprint(api, ticket["id"]).status_code == 200
    assert len(emulator.wait_for_jobs(1)) == 1


def test_bad_url_unknown_ticket_and_permissions(api: Api, emulator: PrinterEmulator) -> None:
    r = api.client.patch(
        "/api/v1/branch", json={"settings": {"printer_url": "printer-by-the-door"}}, headers=api.auth("manager")
    )
    assert r.status_code == 422 and "tcp://" in r.text  # a branch setting is checked when it is set
    api.client.app.state.settings.printer_url = "printer-by-the-door"  # type: ignore[attr-defined]
    ticket = api.issue("A")
    r = reprint(api, ticket["id"])  # the server's own setting is checked when it is used
    assert r.status_code == 422 and r.json()["code"] == "invalid_printer_url"
    set_printer(api, emulator.url)
    assert reprint(api, 999999).status_code == 404
    assert reprint(api, ticket["id"], who="kiosk").status_code == 403
    assert api.client.post(f"/api/v1/tickets/{ticket['id']}/reprint").status_code == 401
    assert emulator.jobs == []
