from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.dialects.postgresql import base as postgresql_base
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from wins import clock
from wins.db import Base, UTCDateTime


class XID8(UserDefinedType[str]):
    """PostgreSQL's 64-bit transaction id type (compared in SQL only; never read into Python)."""

    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "xid8"


# So that reading the schema back (Alembic's model check, `wins doctor`) knows the type.
postgresql_base.ischema_names.setdefault("xid8", XID8)


class Event(Base):
    """The event log: every state change appends one row, in the same transaction as the change."""

    __tablename__ = "events"
    __table_args__ = {"sqlite_autoincrement": True}  # ids never reused, even after pruning

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    type: Mapped[str] = mapped_column(String(48))
    branch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # PostgreSQL: set with the id by the trigger `events_position` (migration 0008): the next transaction id not
    # yet handed out just after this id was drawn. Once every transaction below it has ended, no event with a
    # smaller id can still appear (docs/architecture.md, "Event order"). NULL on SQLite and for older events.
    horizon_xid: Mapped[str | None] = mapped_column(
        BigInteger().with_variant(XID8(), "postgresql"), nullable=True, deferred=True
    )
