"""The per-client remote-join limit in the database (issue 17): it holds across workers and hosts. No personal
data: a keyed hash of the client address with the branch and the hour, deleted once the hour is over.

Revision ID: 0016
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "join_rate",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("joins", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_join_rate"),
    )
    op.create_index("ix_join_rate_hour", "join_rate", ["hour"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_join_rate_hour", table_name="join_rate")
    op.drop_table("join_rate")
