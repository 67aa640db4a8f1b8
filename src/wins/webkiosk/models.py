from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wins import clock
from wins.db import Base, UTCDateTime


class TabletPrintJob(Base):
    """A tablet's slip for the branch's printer (wins.webkiosk.printing), kept in the database so any worker of
    any host prints it: one whose host died after taking it, before or while printing, is printed by another.

    One per ticket (the print request's answer is given again, never a second slip). `due_at`: when a worker may
    take it (while one prints it, the end of its hold; after a failed try, the next try). Printed jobs are
    deleted a day later."""

    __tablename__ = "tablet_print_jobs"
    __table_args__ = (Index("ix_tablet_print_jobs_pending", "printed_at", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"), nullable=True)
    printer_url: Mapped[str] = mapped_column(String(500))
    slip: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_message: Mapped[str] = mapped_column(String(500), default="")
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # the print request's first answer
    printed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
