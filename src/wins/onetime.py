"""One-time codes: short-lived secrets that work once, for a URL where a long-lived token must never go.

Two purposes use them:
- `stream`: a connect ticket for the event WebSocket (`/api/v1/events/ws?ticket=…`). Browsers cannot set headers on
  a WebSocket, so the page asks for a ticket over an authenticated request just before each connect.
- `pair`: a display pairing link (`/display?pair=…`) that the screen exchanges for its HttpOnly device cookie.

A code is single-use across every worker and host: using it deletes its row (`DELETE … RETURNING`, one statement,
so two workers racing for the same code cannot both win). Only the code's SHA-256 is stored, so a copy of the
database holds nothing usable. Expired rows are pruned whenever a new code is issued.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from wins import clock
from wins.db import Base, UTCDateTime
from wins.devices.models import Device
from wins.staff.models import StaffUser


class CodePurpose(StrEnum):
    stream = "stream"
    pair = "pair"


PREFIX = {CodePurpose.stream: "wct_", CodePurpose.pair: "wpc_"}


class OneTimeCode(Base):
    __tablename__ = "one_time_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey(StaffUser.id, ondelete="CASCADE"), nullable=True)
    # The staff account's token_version when the code was issued: a password change in between voids it.
    staff_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey(Device.id, ondelete="CASCADE"), nullable=True)
    # Which web session asked (a hash, see wins.web.session.session_key): its sign-out closes the stream.
    session_key: Mapped[str | None] = mapped_column(String(32), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


@dataclass(frozen=True)
class Grant:
    """What a used code stood for."""

    staff_id: int | None
    staff_version: int | None
    device_id: int | None
    session_key: str | None


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def issue_code(
    session: Session,
    *,
    purpose: CodePurpose,
    seconds: int,
    staff_id: int | None = None,
    staff_version: int | None = None,
    device_id: int | None = None,
    session_key: str | None = None,
) -> str:
    """A new code for `purpose`, usable once within `seconds`. The caller's transaction must commit it."""
    now = clock.utcnow()
    session.execute(delete(OneTimeCode).where(OneTimeCode.expires_at < now))
    code = PREFIX[purpose] + secrets.token_urlsafe(24)
    session.add(
        OneTimeCode(
            code_hash=_hash(code),
            purpose=purpose.value,
            staff_id=staff_id,
            staff_version=staff_version,
            device_id=device_id,
            session_key=session_key,
            expires_at=now + timedelta(seconds=seconds),
        )
    )
    session.flush()
    return code


def consume_code(session: Session, code: str, *, purpose: CodePurpose) -> Grant | None:
    """Use a code: what it grants, or None if it is unknown, already used, expired or for another purpose.
    The row is deleted whatever its state, so a second try (on any worker) finds nothing."""
    if not code.startswith(PREFIX[purpose]) or len(code) > 64:
        return None
    table = OneTimeCode.__table__
    row = session.execute(
        delete(OneTimeCode)
        .where(table.c.code_hash == _hash(code))
        .returning(
            table.c.purpose,
            table.c.staff_id,
            table.c.staff_version,
            table.c.device_id,
            table.c.session_key,
            table.c.expires_at,
        )  # fmt: skip
    ).first()
    if row is None or row.purpose != purpose.value or row.expires_at <= clock.utcnow():
        return None
    return Grant(row.staff_id, row.staff_version, row.device_id, row.session_key)
