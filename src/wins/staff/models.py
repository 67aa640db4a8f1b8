from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from wins import clock
from wins.db import Base, UTCDateTime
from wins.enums import Role as Role  # defined in wins.enums; re-exported for the model's readers


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(String(16), default=Role.staff)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on sign-out, password change or deactivation: ends every web session and API token issued before.
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    # Unused since the per-client throttle (wins.staff.throttle, migration 0005); kept for older databases.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_counter_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Single-letter shortcuts in the workspace (WCAG 2.1.4: they can be turned off, remembered per person).
    shortcuts_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)


class LoginThrottle(Base):
    """Failed sign-in counters, shared by every worker and host (wins.staff.throttle). One row per client
    address, and one per client address and typed username; the key is a hash, so the table never holds what
    people typed as a username (often a password typed in the wrong field)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Hash of the username for per-account rows (NULL for per-client rows): a password reset unlocks them all.
    account: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When the row stops mattering (end of its window or its lock); older rows are deleted as sign-ins come.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class StaffBranchRole(Base):
    """A staff member's role in one branch (docs/architecture.md, "Branches"). A user acts only in the branches
    listed here, each with its own role; an account whose own `role` is admin is head office: admin in every
    branch, listed or not. An account without rows acts with its own `role` in the first branch."""

    __tablename__ = "staff_branch_roles"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"), primary_key=True, index=True)
    role: Mapped[Role] = mapped_column(String(16))
