"""The counter workspace (issue 16): a ticket's named priority category, counter pauses with a reason, a target
wait per service, and a staff member's choice to turn single-letter shortcuts off.

Existing rows: tickets have no category (NULL: a plain or a boolean-priority ticket, as before), no counter is
paused, no service has a target, and everyone keeps the shortcuts they had.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from wins.db import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("priority_category", sa.String(length=32), nullable=True))
    with op.batch_alter_table("counters") as batch:
        batch.add_column(sa.Column("paused_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("pause_reason", sa.String(length=16), nullable=True))
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("target_wait_minutes", sa.Integer(), nullable=True))
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("shortcuts_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "counter_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("counter_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["branch_id"], ["branches.id"]),
        sa.ForeignKeyConstraint(["counter_id"], ["counters.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_counter_pauses_day", "counter_pauses", ["branch_id", "business_day"])


def downgrade() -> None:
    op.drop_index("ix_counter_pauses_day", table_name="counter_pauses")
    op.drop_table("counter_pauses")
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("shortcuts_enabled")
    with op.batch_alter_table("services") as batch:
        batch.drop_column("target_wait_minutes")
    with op.batch_alter_table("counters") as batch:
        batch.drop_column("pause_reason")
        batch.drop_column("paused_at")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("priority_category")
