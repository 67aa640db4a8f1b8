from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wins import clock
from wins.db import Base, UTCDateTime
from wins.join.models import ServiceRemote


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
    # On a pause (break, paperwork, other): call-next refuses and the wait estimate leaves the counter out.
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    pause_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
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

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None


class CounterService(Base):
    """A service a counter serves, and in which order it takes it (position 0 first)."""

    __tablename__ = "counter_services"

    counter_id: Mapped[int] = mapped_column(ForeignKey("counters.id", ondelete="CASCADE"), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # The service's remote settings (None: the defaults), loaded with the link in the same statement: call-next
    # reads arrival check-in from it (wins.tickets.arrival.asked_at) without a round trip of its own, and fresh,
    # since a counter is read afresh in every call's transaction.
    remote: Mapped[ServiceRemote | None] = relationship(
        primaryjoin="CounterService.service_id == foreign(ServiceRemote.service_id)", lazy="joined", viewonly=True
    )


class CounterPause(Base):
    """One pause of a counter, from its start to its end (NULL while it lasts): the reports add them up."""

    __tablename__ = "counter_pauses"
    __table_args__ = (Index("ix_counter_pauses_day", "branch_id", "business_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    counter_id: Mapped[int] = mapped_column(ForeignKey("counters.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True)
    reason: Mapped[str] = mapped_column(String(16))
    business_day: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
