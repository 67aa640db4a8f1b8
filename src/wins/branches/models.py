from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wins import clock
from wins.db import Base, UTCDateTime


class Branch(Base):
    """A site with its own queues (a clinic, a bank branch …)."""

    __tablename__ = "branches"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Business day starts at this local hour (0 = midnight); ticket numbers restart then.
    day_rollover_hour: Mapped[int] = mapped_column(Integer, default=0)
    # Free-form branch settings: slip_text, kiosk_languages, logo, display options …
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
