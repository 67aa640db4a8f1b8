from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from wins.db import Base

DEFAULT_NOTIFY_AHEAD = 3
DEFAULT_CHECKIN_GRACE_MINUTES = 10


class ServiceRemote(Base):
    """A service's settings for customers beyond the building. No row: the defaults."""

    __tablename__ = "service_remote"

    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    # "Nearly your turn" is pushed when this many people (or fewer) are ahead.
    notify_ahead: Mapped[int] = mapped_column(Integer, default=DEFAULT_NOTIFY_AHEAD)
    # Remote tickets per business day (None: no cap; 0: no remote join for this service).
    remote_daily_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Arrival check-in (migration 0014): a remote ticket keeps its place but is called only once the customer says
    # "I'm here" on site; passed over meanwhile, and a no-show `checkin_grace_minutes` after it first reached the
    # front (wins.tickets.arrival).
    arrival_checkin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    checkin_grace_minutes: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_CHECKIN_GRACE_MINUTES, server_default=str(DEFAULT_CHECKIN_GRACE_MINUTES)
    )


class JoinRate(Base):
    """Remote joins per client, branch and clock hour: the per-client limit, shared by every worker and host.
    No personal data: `key` is a keyed hash (WINS_SECRET_KEY) of the client address with the branch and the hour,
    so it cannot be reversed or linked from one hour to the next; rows of past hours are deleted as joins come."""

    __tablename__ = "join_rate"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, index=True)  # hours since 1970 (UTC)
    joins: Mapped[int] = mapped_column(Integer, default=0)
