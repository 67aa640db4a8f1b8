"""The three history indexes of 0002 become partial: they hold only tickets that were called or finished.

A ticket being issued has neither time yet, so issuing no longer writes three index entries it never needs
(issuing is the hottest write; see docs/performance.md). Every query that uses them already demands the time
(`finished_at IS NOT NULL`, `first_called_at >= …`), which is what lets SQLite and PostgreSQL pick a partial index.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_tickets_service_finished", ["service_id", "finished_at"], "finished_at IS NOT NULL"),
    ("ix_tickets_service_first_called", ["service_id", "first_called_at"], "first_called_at IS NOT NULL"),
    ("ix_tickets_counter_finished", ["counter_id", "finished_at"], "finished_at IS NOT NULL"),
)


def upgrade() -> None:
    for name, columns, where in INDEXES:
        op.drop_index(name, table_name="tickets")
        op.create_index(
            name, "tickets", columns, sqlite_where=sa.text(where), postgresql_where=sa.text(where), unique=False
        )


def downgrade() -> None:
    for name, columns, _ in INDEXES:
        op.drop_index(name, table_name="tickets")
        op.create_index(name, "tickets", columns, unique=False)
