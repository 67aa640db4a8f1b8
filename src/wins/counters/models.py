from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wins import clock
from wins.db import Base, UTCDateTime


class Counter(Base):
    """A desk or window where staff serve customers."""

    __tablename__ = "counters"
    __table_args__ = (UniqueConstraint("branch_id", "name", name="uq_counters_branch_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Who sits at the counter now (set when staff pick it); open counters feed the wait estimate.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    # Set when a used counter is retired (migration 0008); a never-used one is deleted instead.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)

    service_links: Mapped[list[CounterService]] = relationship(
        order_by="CounterService.position", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def service_ids(self) -> list[int]:
        return [link.service_id for link in self.service_links]

    @property
    def is_open(self) -> bool:
        return self.active and self.staff_id is not None


class CounterService(Base):
    """A service a counter serves, and in which order it takes it (position 0 first)."""

    __tablename__ = "counter_services"

    counter_id: Mapped[int] = mapped_column(ForeignKey("counters.id", ondelete="CASCADE"), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
