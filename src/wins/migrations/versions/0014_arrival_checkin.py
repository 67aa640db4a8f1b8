"""Arrival check-in (issue 17): a service's `arrival_checkin` and `checkin_grace_minutes` with its other remote
settings; each ticket's `checkin_required`, `checked_in_at` and `passed_over_at`. Existing services and tickets
get "off": nothing changes for them.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from wins.db import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_remote") as batch:
        batch.add_column(sa.Column("arrival_checkin", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("checkin_grace_minutes", sa.Integer(), server_default="10", nullable=False))
    # add_column (no table copy on SQLite): the tickets table is the big one.
    op.add_column("tickets", sa.Column("checkin_required", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("tickets", sa.Column("checked_in_at", UTCDateTime(), nullable=True))
    op.add_column("tickets", sa.Column("passed_over_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("passed_over_at")
        batch.drop_column("checked_in_at")
        batch.drop_column("checkin_required")
    with op.batch_alter_table("service_remote") as batch:
        batch.drop_column("checkin_grace_minutes")
        batch.drop_column("arrival_checkin")
