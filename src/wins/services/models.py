from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wins import clock
from wins.db import Base, UTCDateTime


class Service(Base):
    """What a customer queues for ("Loans", "Prescriptions"); its prefix starts every ticket number."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("branch_id", "prefix", name="uq_services_branch_prefix"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(3))
    colour: Mapped[str] = mapped_column(String(7), default="#1f6feb")
    # Takes new tickets. False = "stop issuing": the kiosk shows it as not issuing, waiting tickets are still
    # called. Archived (below) is the other thing: gone from every screen, kept for history and reports.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Higher weight is called first at every counter that serves it (e.g. appointments).
    priority_weight: Mapped[int] = mapped_column(Integer, default=0)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    # Opening hours, a schemas.ServiceHours; NULL = takes tickets at any time (migration 0008; wins.services.hours).
    hours: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, default=None)
    # The longest wait the site aims for; the dashboard and the workspace warn past it (NULL: no target).
    target_wait_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    # Set when a used service is retired (migration 0008); a never-used one is deleted instead.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)
