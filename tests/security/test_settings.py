"""Branch settings and device configuration have a declared schema (issue 11).

A manager must not be able to point the server's printer at a file (`file:///…/wins.db` would be opened for
writing by the next reprint), set a path, or store a wrongly-typed value that breaks the display; values stored
before the schema existed must read as defaults instead of breaking pages."""

from __future__ import annotations

import base64
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import update

from tests.conftest import Api
from tests.security.forms import FormSession
from wins import schemas
from wins.branches.models import Branch
from wins.devices.models import Device


def send(api: Api, method: str, path: str, body: Any, who: str) -> Any:
    # json.dumps writes "\ud800" as an escape, as a hostile client would (httpx refuses to encode it).
    headers = {**api.auth(who), "Content-Type": "application/json"}
    return api.client.request(method, path, content=json.dumps(body), headers=headers)


def said(response: Any, words: str) -> bool:
    return any(choice in response.text for choice in words.split("|"))


def open_display(api: Api) -> Any:
    """The display board's page, as a paired screen opens it (a one-time pairing link, then its cookie)."""
    display = next(d["id"] for d in api.get("/api/v1/devices") if d["kind"] == "display")
    code = api.post(f"/api/v1/devices/{display}/pairing-code", "admin", expect=201)["code"]
    return api.client.get("/display", params={"pair": code})


def patch_branch(api: Api, settings: dict[str, Any]) -> Any:
    return send(api, "PATCH", "/api/v1/branch", {"settings": settings}, "manager")


def branch_settings(api: Api) -> dict[str, Any]:
    return dict(api.client.get("/api/v1/branch", headers=api.auth("manager")).json()["settings"])


def display_id(api: Api) -> int:
    devices = api.client.get("/api/v1/devices", headers=api.auth("admin")).json()
    return int(next(d["id"] for d in devices if d["kind"] == "display"))


def store(api: Api, model: type[Branch] | type[Device], row_id: int, **values: Any) -> None:
    """Write straight to the database, as an older version (or a hand edit) could have."""
    with api.client.app.state.db.session() as session:  # type: ignore[attr-defined]
        session.execute(update(model).where(model.id == row_id).values(**values))


def png(size: tuple[int, int] = (4, 4), fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    "url",
    [
        "file://{tmp}/pwned",
        "file:///{tmp}/../wins.db",  # the SQLite database of this test
        "serial://{tmp}/tty",
        "usb://04b8:0202",
        "dummy://",
        "FILE://{tmp}/upper",
        " file://{tmp}/spaced",
    ],
)
def test_non_network_printer_urls_are_refused_and_nothing_is_written(api: Api, tmp_path: Path, url: str) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    before = branch_settings(api)
    r = patch_branch(api, {"printer_url": url.format(tmp=victim)})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_input"
    message = r.json()["detail"][0]["msg"]
    assert "only network printers (tcp://HOST:PORT)" in message and "WINS_PRINTER_URL" in message
    assert branch_settings(api) == before
    ticket = api.issue("A")
    r = api.client.post(f"/api/v1/tickets/{ticket['id']}/reprint", headers=api.auth("staff"))
    assert r.status_code == 409  # still no printer configured
    assert list(victim.iterdir()) == []  # no file was created


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("printer-by-the-door", "is not a URL"),
        ("tcp://", "host name or an IP"),
        ("tcp://printer:0", "between 1 and 65535"),
        ("tcp://printer:65536", "between 1 and 65535"),
        ("tcp://printer:９１００", "between 1 and 65535"),
        ("tcp://user:secret@printer:9100", "tcp://HOST:PORT"),
        ("tcp://printer:9100/x", "tcp://HOST:PORT"),
        ("tcp://printer:9100?devfile=/etc/passwd", "?profile=NAME"),
        ("tcp://-printer-:9100", "host name or an IP"),
        ("tcp://" + "a" * 300 + ":9100", "at most 300"),
    ],
)
def test_malformed_network_urls_are_refused_with_the_reason(api: Api, url: str, words: str) -> None:
    r = patch_branch(api, {"printer_url": url})
    assert r.status_code == 422 and words in r.text, r.text


def test_a_network_printer_is_stored_in_full_and_can_be_removed(api: Api) -> None:
    assert patch_branch(api, {"printer_url": "tcp://Printer.Local"}).status_code == 200
    assert branch_settings(api)["printer_url"] == "tcp://printer.local:9100"
    assert patch_branch(api, {"printer_url": "tcp://[fe80::1]:9101?profile=TM-T88V"}).status_code == 200
    assert branch_settings(api)["printer_url"] == "tcp://[fe80::1]:9101?profile=TM-T88V"
    assert patch_branch(api, {"printer_url": None}).status_code == 200
    assert branch_settings(api)["printer_url"] is None


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"logo_path": "/etc/passwd"}, "paths cannot be set over HTTP"),
        ({"spool_dir": "/tmp"}, "paths cannot be set over HTTP"),
        ({"font_file": "/etc/shadow"}, "paths cannot be set over HTTP"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
        ({"slip_text": 5}, "valid string"),
        ({"slip_text": "x" * 501}, "at most 500"),
        ({"slip_text": "a\u0000b"}, "control characters"),
        ({"kiosk_languages": "en"}, "valid list"),
        ({"kiosk_languages": []}, "at least 1"),
        ({"kiosk_languages": ["en"] * 21}, "at most 20"),
        ({"kiosk_languages": ["english please"]}, "at most 8 characters"),
        ({"kiosk_languages": ["e n"]}, "pattern"),
        ({"languages": [1]}, "valid string"),
        ({"printer_url": 9100}, "valid string"),
        ({"logo": "https://example.com/logo.png"}, "data: URL"),
        ({"logo": "javascript:alert(1)"}, "data: URL"),
    ],
)
def test_branch_settings_follow_their_schema(api: Api, values: dict[str, Any], words: str) -> None:
    # (not named `settings`: that would replace the app's Settings fixture for this test)
    before = branch_settings(api)
    r = patch_branch(api, values)
    assert r.status_code == 422 and words in r.text, r.text
    assert branch_settings(api) == before


def test_a_logo_must_be_the_picture_it_claims_to_be(api: Api, signed_in: Any) -> None:
    ok = "data:image/png;base64," + base64.b64encode(png()).decode()
    assert patch_branch(api, {"logo": ok}).status_code == 200
    assert branch_settings(api)["logo"] == ok
    jpeg_as_png = "data:image/png;base64," + base64.b64encode(png(fmt="JPEG")).decode()
    r = patch_branch(api, {"logo": jpeg_as_png})
    assert r.status_code == 422 and "says image/png but the picture is JPEG" in r.text
    html_as_png = "data:image/png;base64," + base64.b64encode(b"<svg onload=alert(1)>").decode()
    assert patch_branch(api, {"logo": html_as_png}).status_code == 422
    assert branch_settings(api)["logo"] == ok

    # The admin form's upload goes through the same check: the browser's content type is not trusted.
    manager: FormSession = signed_in("manager")
    fields = {"name": "Test Branch", "timezone": "Europe/Paris", "day_rollover_hour": "0", "kiosk_languages": "en"}
    r = manager.post("/admin/branch", fields, files={"logo": ("logo.png", b"<script>alert(1)</script>", "image/png")})
    assert r.status_code == 422 and "not a readable PNG, JPEG or WebP picture" in r.text
    r = manager.post("/admin/branch", fields, files={"logo": ("logo.webp", png(fmt="WEBP"), "image/webp")})
    assert r.status_code == 200 and "Settings of Test Branch saved." in r.text
    assert branch_settings(api)["logo"].startswith("data:image/webp;base64,")
    big = png((1200, 1200), fmt="PNG")  # ~ a few KB: noise makes it large
    big = big + b"\0" * (300 * 1024)  # a valid PNG followed by junk, over 256 KiB
    r = manager.post("/admin/branch", fields, files={"logo": ("logo.png", big, "image/png")})
    assert r.status_code == 422 and "too large" in r.text


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"history": "6"}, "valid integer"),
        ({"history": 13}, "less than or equal to 12"),
        ({"history": 6.5}, "valid integer"),
        ({"layout": "mosaic"}, "'calls' or 'counters'"),
        ({"services": [2**70]}, "less than or equal to 2147483647"),
        ({"services": "1,2"}, "valid list"),
        ({"services": list(range(1, 102))}, "at most 100"),
        ({"speech": "yes"}, "valid boolean"),
        ({"title": "x" * 81}, "at most 80"),
        ({"title": "\ud800"}, "unicode string|lone surrogates"),
        ({"languages": ["fr", 7]}, "valid string"),
        ({"allow_priority": 1}, "valid boolean"),
        ({"video_file": "/dev/sda"}, "paths cannot be set over HTTP"),
        ({"font": "big"}, "Extra inputs are not permitted"),
    ],
)
def test_display_settings_follow_their_schema(api: Api, config: dict[str, Any], words: str) -> None:
    device = display_id(api)
    r = send(api, "PATCH", f"/api/v1/devices/{device}", {"config": config}, "admin")
    assert r.status_code == 422 and said(r, words), r.text
    r = send(api, "POST", "/api/v1/devices", {"name": "Hall", "kind": "display", "config": config}, "admin")
    assert r.status_code == 422 and said(r, words), r.text
    assert open_display(api).status_code == 200


def test_display_settings_change_only_the_keys_given(api: Api) -> None:
    device = display_id(api)
    path, admin = f"/api/v1/devices/{device}", api.auth("admin")
    assert api.client.patch(path, json={"config": {"history": 3, "title": "Hall"}}, headers=admin).status_code == 200
    assert api.client.patch(path, json={"config": {"title": None}}, headers=admin).status_code == 422
    r = api.client.patch(path, json={"config": {"layout": "counters", "title": ""}}, headers=admin)
    assert r.status_code == 200
    config = r.json()["config"]
    assert (config["history"], config["layout"], config["title"]) == (3, "counters", "")


def test_bad_stored_values_read_as_defaults_and_pages_keep_working(
    api: Api, signed_in: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schemas, "_warned", set())  # warned once per process: this test runs once per backend
    target = tmp_path / "victim" / "secret_key"
    branch_id = api.client.get("/api/v1/branch", headers=api.auth("manager")).json()["id"]
    store(
        api,
        Branch,
        branch_id,
        settings={
            "slip_text": 5,
            "languages": "fr",
            "kiosk_languages": ["de"],
            "logo_path": "/etc/passwd",
            "printer_url": f"file://{target}",
        },
    )
    store(api, Device, display_id(api), config={"history": "lots", "layout": 7, "services": ["x"], "title": ["x"]})
    caplog.set_level(logging.WARNING, logger="wins.schemas")

    page = open_display(api)
    compact = page.text.replace(" ", "")  # the page's script JSON is compact (wins.htmlsafe.script_json)
    assert page.status_code == 200 and '"history":6' in compact and '"layout":"calls"' in compact
    assert '"languages":["en"]' in compact  # the branch's announcement languages fell back too
    settings = branch_settings(api)
    assert settings["slip_text"] == "Thank you for your patience." and settings["kiosk_languages"] == ["de"]
    assert "logo_path" not in settings and settings["printer_url"] is None
    assert api.client.get("/api/v1/devices", headers=api.auth("admin")).status_code == 200
    manager: FormSession = signed_in("manager")
    assert manager.client.get("/admin/branch").status_code == 200
    assert manager.client.get("/staff").status_code == 200
    assert any("ignoring stored values" in r.getMessage() and "printer_url" in r.getMessage() for r in caplog.records)

    # Reprinting does not open the stored file:// printer (checked again where the printer is built).
    ticket = api.issue("A")
    r = api.client.post(f"/api/v1/tickets/{ticket['id']}/reprint", headers=api.auth("staff"))
    assert r.status_code == 422 and r.json()["code"] == "invalid_printer_url", r.text
    assert "WINS_PRINTER_URL" in r.json()["detail"]
    assert not target.exists()

    # A later change keeps the good values and replaces the bad ones by defaults.
    assert patch_branch(api, {"slip_text": "Welcome"}).status_code == 200
    assert branch_settings(api)["kiosk_languages"] == ["de"]
    with api.client.app.state.db.session(write=False) as session:  # type: ignore[attr-defined]
        branch = session.get(Branch, branch_id)
        assert branch is not None
        stored = branch.settings
    assert stored == {
        "slip_text": "Welcome",
        "kiosk_languages": ["de"],
        "languages": ["en"],
        "priority_categories": [],
        "holidays": [],
        "remote_join": True,
        "join_key_required": False,
        "push_available": False,
        "sms_available": False,
    }


def test_device_status_is_small_and_declared(api: Api) -> None:
    kiosk = api.auth("kiosk")
    good = {"printer": "paper_out", "printer_message": "Out of paper", "paper_low": False, "spooled_slips": 2}
    r = api.client.post("/api/v1/devices/me/status", json={"status": {**good, "screen": "start"}}, headers=kiosk)
    assert r.status_code == 200 and r.json()["status"]["printer"] == "paper_out"
    for status, words in [
        ({"printer": "x" * 33}, "at most 32"),
        ({"printer": "<b>on</b>"}, "pattern"),
        ({"printer_message": "m" * 501}, "at most 500"),
        ({"spooled_slips": -1}, "greater than or equal to 0"),
        ({"spooled_slips": 2**70}, "less than or equal to"),
        ({"printer": "ok", "cpu": {"deep": [1, 2, 3]}}, "Extra inputs are not permitted"),
        ({"printer_message": "\ud800"}, "unicode string|lone surrogates"),
        ({"printer_message": "nul\u0000"}, "control characters"),
    ]:
        r = send(api, "POST", "/api/v1/devices/me/status", {"status": status}, "kiosk")
        assert r.status_code == 422 and said(r, words), (status, r.text)
    devices = api.client.get("/api/v1/devices", headers=api.auth("admin")).json()
    assert next(d for d in devices if d["kind"] == "kiosk")["status"] == {**good, "screen": "start"}
