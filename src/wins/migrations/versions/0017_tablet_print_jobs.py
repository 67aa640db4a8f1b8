"""Tablets' slips in the database (issue 15): a slip spooled by a host that dies is printed by another host.
The spool was a SQLite file in each host's data folder, out of reach of the others.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from wins.db import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tablet_print_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("printer_url", sa.String(length=500), nullable=False),
        sa.Column("slip", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_message", sa.String(length=500), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("printed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_tablet_print_jobs_ticket_id_tickets", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name="fk_tablet_print_jobs_device_id_devices", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tablet_print_jobs"),
        sa.UniqueConstraint("ticket_id", name="uq_tablet_print_jobs_ticket_id"),
    )
    op.create_index("ix_tablet_print_jobs_pending", "tablet_print_jobs", ["printed_at", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_tablet_print_jobs_pending", table_name="tablet_print_jobs")
    op.drop_table("tablet_print_jobs")
