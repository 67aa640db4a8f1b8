"""Display pairing, the tracking page and the public per-ticket long-poll, over real HTTP."""

from __future__ import annotations

import json
import re
import threading
import time

import httpx

from tests.display.conftest import Site


def _config(html: str) -> dict[str, object]:
    match = re.search(r'<script id="wins-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, html[:500]
    return dict(json.loads(match.group(1)))


def test_display_pairs_once_then_uses_an_httponly_cookie(site: Site) -> None:
    link = site.pairing_link()
    with httpx.Client(base_url=site.url, follow_redirects=True) as browser:
        unpaired = browser.get("/display")
        assert unpaired.status_code == 401
        assert "text/html" in unpaired.headers["content-type"]
        assert "not paired" in unpaired.text
        r = browser.get(link)
        assert r.history[0].status_code == 303
        assert r.history[0].headers["location"] == "/display"  # the code leaves the address bar
        cookie = r.history[0].headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert site.data.tokens["display"].lower() not in cookie  # the cookie is not the device token
        assert r.status_code == 200 and str(r.url).endswith("/display")
        assert r.headers["cache-control"] == "no-store"
        config = _config(r.text)
        assert "token" not in config and config["csrf"] is None  # no credential in the page
        assert config["languages"] == ["en"] and config["layout"] == "calls"
        assert browser.get("/display/config").json()["version"] == config["version"]
        # The board reads the API with its cookie alone (read-only requests only).
        assert browser.get("/api/v1/queue").status_code == 200
        assert browser.post("/api/v1/devices/me/status", json={"status": {}}).status_code == 401
    with httpx.Client(base_url=site.url, follow_redirects=True) as other:
        again = other.get(link)  # a pairing link works once
        assert again.status_code == 401 and "cannot be paired" in again.text
        assert "wins_display" not in other.cookies


def test_display_refuses_tokens_in_the_address_and_bad_pairing_codes(site: Site) -> None:
    with httpx.Client(base_url=site.url, follow_redirects=True) as browser:
        for token in (site.data.tokens["display"], site.data.tokens["kiosk"], site.data.tokens["staff"]):
            r = browser.get("/display", params={"token": token})
            assert r.status_code == 400 and "pairing link" in r.text
        r = browser.get("/display", params={"pair": "wpc_nope"})
        assert r.status_code == 401 and "text/html" in r.headers["content-type"]
        assert "wins_display" not in browser.cookies
    devices = site.http.get("/api/v1/devices", headers=site.auth("admin")).json()
    kiosk = next(d for d in devices if d["kind"] == "kiosk")
    r = site.http.post(f"/api/v1/devices/{kiosk['id']}/pairing-code", headers=site.auth("admin"))
    assert r.status_code == 201 and "/kiosk?pair=" in r.json()["url"]  # a kiosk's link pairs a web-kiosk tablet
    refused = site.http.get("/display?pair=" + r.json()["code"])
    assert refused.status_code == 403 and "not a display" in refused.text  # (and it is used up)
    display = next(d for d in devices if d["name"] == "display")
    r = site.http.post(f"/api/v1/devices/{display['id']}/pairing-code", headers=site.auth("manager"))
    assert r.status_code == 403


def test_display_settings_come_from_the_device_config(site: Site) -> None:
    devices = site.http.get("/api/v1/devices", headers=site.auth("admin")).json()
    display = next(d for d in devices if d["kind"] == "display")
    changes = {
        "config": {
            "services": [site.data.services["B"]],
            "layout": "counters",
            "history": 4,
            "languages": ["fr", "en"],
            "title": "Hall <B>",
        }
    }
    r = site.http.patch(f"/api/v1/devices/{display['id']}", json=changes, headers=site.auth("admin"))
    assert r.status_code == 200, r.text
    try:
        with httpx.Client(base_url=site.url, follow_redirects=True) as browser:
            page = browser.get(site.pairing_link())
            config = _config(page.text)
            assert config["services"] == [site.data.services["B"]]
            assert config["layout"] == "counters" and config["history"] == 4
            assert config["languages"] == ["fr", "en"]
            assert "<B>" not in page.text.split('id="wins-config"')[1]  # escaped inside the script tag
            assert 'class="layout-counters"' in page.text
    finally:
        reset = {"config": {"services": [], "layout": "calls", "history": 6, "languages": [], "title": ""}}
        site.http.patch(f"/api/v1/devices/{display['id']}", json=reset, headers=site.auth("admin"))


def test_tracking_page_and_friendly_404(site: Site) -> None:
    ticket = site.issue("C")
    page = site.http.get(f"/t/{ticket['tracking_token']}")
    assert page.status_code == 200
    assert ticket["number"] in page.text and "Documents" in page.text
    assert "I&#39;m leaving" in page.text  # the button, HTML-escaped
    french = site.http.get(f"/t/{ticket['tracking_token']}", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert "Je pars" in french.text
    missing = site.http.get("/t/not-a-real-token")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    assert "Ticket not found" in missing.text


def test_public_updates_wake_up_on_the_ticket_call_and_reveal_no_other_ticket(site: Site) -> None:
    site.issue("C")
    mine = site.issue("C")
    url = f"/api/v1/public/tickets/{mine['tracking_token']}/updates"
    start = site.http.get(url).json()
    assert start["ticket"]["status"] == "waiting" and start["ticket"]["people_ahead"] >= 1
    assert "tracking_token" not in json.dumps(start)
    got: dict[str, object] = {}

    def poll() -> None:
        began = time.monotonic()
        got["body"] = site.http.get(url, params={"since": start["last_id"], "timeout": 20}).json()
        got["seconds"] = time.monotonic() - began

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.5)
    # Counter 4 serves C first: a ticket ahead of mine is called, so my position moves.
    called = site.call_next("4")
    assert called["service_id"] == site.data.services["C"] and called["number"] != mine["number"]
    waiter.join(timeout=25)
    body = got["body"]
    assert isinstance(body, dict)
    assert float(str(got["seconds"])) < 5  # woke up on the event, not at the timeout
    assert body["last_id"] > start["last_id"]
    assert set(body["ticket"]) == set(start["ticket"])  # only this ticket's public view
    assert body["ticket"]["number"] == mine["number"]


def test_public_updates_time_out_quietly(site: Site) -> None:
    ticket = site.issue("C")
    url = f"/api/v1/public/tickets/{ticket['tracking_token']}/updates"
    first = site.http.get(url).json()
    began = time.monotonic()
    again = site.http.get(url, params={"since": first["last_id"], "timeout": 1}).json()
    assert 0.9 < time.monotonic() - began < 5
    assert again["ticket"]["status"] == "waiting"
    assert site.http.get("/api/v1/public/tickets/unknown/updates").status_code == 404


def _web_login(client: httpx.Client, username: str) -> None:
    from tests.support.seed import PASSWORD

    form = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf, form.text[:500]
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf.group(1)})
    assert r.status_code in (200, 303), r.text[:300]


def test_a_signed_in_manager_may_open_the_display(site: Site) -> None:
    with httpx.Client(base_url=site.url, follow_redirects=True) as manager:
        _web_login(manager, "manager")
        page = manager.get("/display")
        assert page.status_code == 200
        config = _config(page.text)
        assert "token" not in config  # no bearer token in the page: the session cookie is used
        # The socket's one-time ticket: with the session's CSRF token (embedded for this) and the custom header.
        headers = {"X-Requested-With": "wins-display", "X-CSRF-Token": str(config["csrf"])}
        ticket = manager.post("/display/stream-ticket", headers=headers)
        assert ticket.status_code == 200 and ticket.json()["ticket"].startswith("wct_")
        assert manager.post("/display/stream-ticket", headers={"X-Requested-With": "wins-display"}).status_code == 403
        wav = manager.get("/display/speech/fr/B12/2.wav")
        assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
    with httpx.Client(base_url=site.url, follow_redirects=True) as clerk:
        _web_login(clerk, "staff")
        assert clerk.get("/display").status_code == 403
