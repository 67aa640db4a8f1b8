"""Display pairing as an admin does it: a one-time pairing link (docs/security.md, "Display pairing")."""

from __future__ import annotations

import httpx


def pairing_link(http: httpx.Client, admin: dict[str, str], device_id: int | None = None) -> str:
    """A one-time pairing path for a display (the seeded one, named "display", by default)."""
    if device_id is None:
        devices = http.get("/api/v1/devices", headers=admin).json()
        device_id = next(d["id"] for d in devices if d["name"] == "display")
    r = http.post(f"/api/v1/devices/{device_id}/pairing-code", headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["url"].endswith("/display?pair=" + r.json()["code"])
    return "/display?pair=" + r.json()["code"]
