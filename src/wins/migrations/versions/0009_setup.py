"""Archived services and counters (issue 13, set-up without demo data).

A service or counter that was used is never deleted (its tickets and reports keep naming it): it is archived,
which hides it from kiosks, displays, the workspace and the admin lists. `active` keeps its stored value and
now means only "takes new tickets" (services) or "switched on" (counters); existing rows are not archived.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from wins.db import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("archived_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("counters") as batch:
        batch.add_column(sa.Column("archived_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("counters") as batch:
        batch.drop_column("archived_at")
    with op.batch_alter_table("services") as batch:
        batch.drop_column("archived_at")
