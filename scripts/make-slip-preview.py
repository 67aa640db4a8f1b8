#!/usr/bin/env python3
"""Write docs/screenshots/slip-preview*.png: sample slips drawn from their ESC/POS bytes.

Usage: .venv/bin/python scripts/make-slip-preview.py [OUTPUT_DIR]
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from wins.printing import Slip, render_preview_png


def sample(language: str, branch: str, service: str) -> Slip:
    return Slip(
        branch_name=branch,
        number="A042",
        service_name=service,
        issued_at=datetime(2025, 3, 14, 9, 26, tzinfo=ZoneInfo("Europe/Paris")),
        people_ahead=4,
        estimated_wait_seconds=720,
        estimated_wait_range=[480, 1080],
        tracking_url="http://queue.example.org:8000/t/3kJ9xQ2mVb7Lw",
        footer="Thank you for your patience.\nFree Wi-Fi: WINS-Guest",
        language=language,
    )


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    slips = {
        "slip-preview.png": sample("en", "Main Street Branch", "General enquiries"),
        "slip-preview-fr.png": sample("fr", "Agence Centre-Ville", "Accueil général"),
        "slip-preview-ar.png": sample("ar", "فرع الشارع الرئيسي", "الاستفسارات العامة"),
    }
    for name, slip in slips.items():
        (out / name).write_bytes(render_preview_png(slip))
        sys.stdout.write(f"wrote {out / name}\n")


if __name__ == "__main__":
    main()
