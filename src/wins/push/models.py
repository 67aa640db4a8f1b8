from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wins import clock
from wins.db import Base, UTCDateTime


class PushState(Base):
    """The one row of the push notifier: the server's VAPID key pair (made at first start, kept here so every
    worker and host signs with the same key; never logged) and the notifier's cursor into the event log."""

    __tablename__ = "push_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    vapid_private_pem: Mapped[str] = mapped_column(Text)
    vapid_public_key: Mapped[str] = mapped_column(String(100))  # base64url, the browser's applicationServerKey
    cursor: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)


class PushSubscription(Base):
    """A phone's push subscription for one ticket; deleted when the ticket ends."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="en")
    near_sent: Mapped[bool] = mapped_column(default=False)
    calls_sent: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
