"""Pairing as an admin does it: a one-time pairing link (docs/security.md, "Display pairing") for a display or
a web-kiosk tablet."""

from __future__ import annotations

import httpx


def pairing_link(http: httpx.Client, admin: dict[str, str], device_id: int | None = None, name: str = "display") -> str:
    """A one-time pairing path (`/display?pair=…` or `/kiosk?pair=…`) for a device (by default the seeded one
    called `name`)."""
    if device_id is None:
        devices = http.get("/api/v1/devices", headers=admin).json()
        device_id = next(d["id"] for d in devices if d["name"] == name)
    r = http.post(f"/api/v1/devices/{device_id}/pairing-code", headers=admin)
    assert r.status_code == 201, r.text
    url = httpx.URL(r.json()["url"])
    assert url.params["pair"] == r.json()["code"]
    return url.raw_path.decode()
