"""The day's life-cycle: opening hours per service (issue 13).

`services.hours` holds a schemas.ServiceHours (weekly intervals, last-ticket cut-off); NULL means the service takes
tickets at any time, which is what every existing service did, so last year's database keeps its behaviour. Branch
holidays and closing time live in the branch settings (JSON, no column). The new ticket status `expired` needs no
change either: `tickets.status` is a plain string column.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("hours", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_column("hours")
