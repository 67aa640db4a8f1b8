"""Indexes that keep wait estimates and calls flat as history grows (bench/history.py).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.create_index("ix_tickets_service_finished", ["service_id", "finished_at"], unique=False)
        batch_op.create_index("ix_tickets_service_first_called", ["service_id", "first_called_at"], unique=False)
        batch_op.create_index("ix_tickets_counter_finished", ["counter_id", "finished_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_index("ix_tickets_counter_finished")
        batch_op.drop_index("ix_tickets_service_first_called")
        batch_op.drop_index("ix_tickets_service_finished")
