"""Text messages through the site's HTTP gateway (issue 17): the sender's cursor and lease, each ticket's
encrypted phone number, and the outbox of texts still to send.

Revision ID: 0015
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from wins.db import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sms_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cursor", BIG_ID, nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sms_state"),
    )
    op.create_table(
        "sms_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("phone_encrypted", sa.String(length=400), nullable=False),
        sa.Column("last_digits", sa.String(length=2), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("near_sent", sa.Boolean(), nullable=False),
        sa.Column("calls_sent", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_sms_requests_ticket_id_tickets", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sms_requests"),
        sa.UniqueConstraint("ticket_id", name="uq_sms_requests_ticket_id"),
    )
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(length=320), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["sms_requests.id"], name="fk_sms_outbox_request_id_sms_requests", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sms_outbox"),
        sa.UniqueConstraint("request_id", "kind", name="uq_sms_outbox_request_id_kind"),
    )
    op.create_index("ix_sms_outbox_next_attempt_at", "sms_outbox", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_sms_outbox_next_attempt_at", table_name="sms_outbox")
    op.drop_table("sms_outbox")
    op.drop_table("sms_requests")
    op.drop_table("sms_state")
