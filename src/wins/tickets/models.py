from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from wins import clock
from wins.db import Base, UTCDateTime
from wins.enums import TicketStatus as TicketStatus  # defined in wins.enums; re-exported for the model's readers

HELD = ("called", "serving")  # statuses in which a counter holds the ticket
# The same test as SQL text, word for word the predicate of the partial index uq_tickets_counter_held: with
# bound parameters instead, SQLite cannot prove a query implies it and scans the counter's whole history.
IS_HELD = text("tickets.status IN ('called', 'serving')")


def _partial_index(name: str, key: str, time_column: str) -> Index:
    where = text(f"{time_column} IS NOT NULL")
    return Index(name, key, time_column, sqlite_where=where, postgresql_where=where)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # One number per service per business day, ever.
        UniqueConstraint("issued_service_id", "business_day", "seq", name="uq_tickets_service_day_seq"),
        # An Idempotency-Key is the sender's: two kiosks that happen to send the same key get their own tickets.
        UniqueConstraint("idempotency_scope", "idempotency_key", name="uq_tickets_idempotency_scope_key"),
        # A counter holds at most one ticket at a time.
        Index(
            "uq_tickets_counter_held",
            "counter_id",
            unique=True,
            sqlite_where=text("status IN ('called', 'serving')"),
            postgresql_where=text("status IN ('called', 'serving')"),
        ),
        # The queue scan of call-next and position.
        Index("ix_tickets_queue", "status", "service_id", "business_day", "queue_at"),
        Index("ix_tickets_day", "branch_id", "business_day"),
        # Wait estimates read recent history per service and per counter: without these they scanned every
        # past ticket (bench/history.py). Migration 0002; partial since 0004, so issuing does not write them.
        _partial_index("ix_tickets_service_finished", "service_id", "finished_at"),
        _partial_index("ix_tickets_service_first_called", "service_id", "first_called_at"),
        _partial_index("ix_tickets_counter_finished", "counter_id", "finished_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    # active_history: the old value is loaded before a change, so queue lengths can follow it (tickets.queue_counts).
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), active_history=True)
    # The service the ticket was issued for (its number keeps that prefix after a transfer).
    issued_service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    business_day: Mapped[date] = mapped_column(Date, active_history=True)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(12))
    priority: Mapped[bool] = mapped_column(Boolean, default=False, active_history=True)
    # The named priority category (a key of the branch setting `priority_categories`); NULL for none. Its weight
    # orders calling (tickets.calling.calling_order). Migration 0008.
    priority_category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[TicketStatus] = mapped_column(String(16), default=TicketStatus.waiting, active_history=True)
    tracking_token: Mapped[str] = mapped_column(String(43), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Who sent the key: "device:<id>" or "staff:<id>" (tickets.issuing.idempotency_scope); NULL without a key.
    idempotency_scope: Mapped[str | None] = mapped_column(String(32), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)

    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    # Place in the queue: the issue time, unless it was sent to the back of a queue.
    queue_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    serving_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    call_count: Mapped[int] = mapped_column(Integer, default=0)
    transfer_count: Mapped[int] = mapped_column(Integer, default=0)

    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"), nullable=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    issued_by_device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    issued_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    # How the ticket was issued: kiosk, staff (reception) or remote (the join page, wins.join). Migration 0008.
    channel: Mapped[str] = mapped_column(String(8), default="kiosk", server_default="kiosk")
    # Arrival check-in (wins.tickets.arrival, migration 0014): a remote ticket of a service that asks for it is
    # called only once checked in (`checked_in_at`); `passed_over_at`: when call-next first passed it over at the
    # front of its queue (its grace time counts from then). Kiosk and staff tickets are on site: never required.
    # Server default only: issuing's prepared insert (no ORM) leaves it to the database.
    checkin_required: Mapped[bool] = mapped_column(Boolean, server_default=false())
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    passed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TicketSequence(Base):
    """Per service per business day: the last number handed out, bumped atomically (never max()+1), and how
    many tickets wait now (all, and priority ones), so issuing knows a new ticket's place without counting."""

    __tablename__ = "ticket_sequences"

    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    business_day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    waiting: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    waiting_priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
