from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wins import clock
from wins.db import Base, UTCDateTime


class SmsState(Base):
    """The one row of the SMS sender: its cursor into the event log and the lease of the process following it."""

    __tablename__ = "sms_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    cursor: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SmsRequest(Base):
    """A ticket's "text me": the phone number, encrypted (wins.sms.phone; never readable from the database alone),
    and what was already sent. One per ticket; deleted when the ticket ends."""

    __tablename__ = "sms_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    phone_encrypted: Mapped[str] = mapped_column(String(400))  # Fernet token (base64url text)
    last_digits: Mapped[str] = mapped_column(String(2))  # what the tracking page may show: "…78"
    language: Mapped[str] = mapped_column(String(8), default="en")
    near_sent: Mapped[bool] = mapped_column(default=False)
    calls_sent: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)


class SmsOutbox(Base):
    """A text to send (its words, never the number: that stays in the request). Claimed row by row, so several
    workers never send one twice; retried with back-off; deleted once the gateway took it or after the last try.
    `kind` ("near", "called-2" …) is unique per request: a replayed event cannot queue the same text again."""

    __tablename__ = "sms_outbox"
    __table_args__ = (UniqueConstraint("request_id", "kind", name="uq_sms_outbox_request_id_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("sms_requests.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(320))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
