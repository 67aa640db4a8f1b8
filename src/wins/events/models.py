from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wins import clock
from wins.db import Base, UTCDateTime


class Event(Base):
    """The event log: every state change appends one row, in the same transaction as the change."""

    __tablename__ = "events"
    __table_args__ = {"sqlite_autoincrement": True}  # ids never reused, even after pruning

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    type: Mapped[str] = mapped_column(String(48))
    branch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
