"""Beyond the building (issue 17): webhook endpoints and their delivery log; Web Push (the VAPID keys and the
notifier's cursor, subscriptions per ticket); per-service remote settings; each ticket's channel.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from wins.db import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=80), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("cursor", BIG_ID, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("paused_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("event_id", BIG_ID, nullable=False),
        sa.Column("event_type", sa.String(length=48), nullable=False),
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name="fk_webhook_deliveries_endpoint_id_webhook_endpoints",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
    )
    op.create_index("ix_webhook_deliveries_endpoint_id", "webhook_deliveries", ["endpoint_id"])
    op.create_table(
        "push_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vapid_private_pem", sa.Text(), nullable=False),
        sa.Column("vapid_public_key", sa.String(length=100), nullable=False),
        sa.Column("cursor", BIG_ID, nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_push_state"),
    )
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=1000), nullable=False),
        sa.Column("p256dh", sa.String(length=200), nullable=False),
        sa.Column("auth", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("near_sent", sa.Boolean(), nullable=False),
        sa.Column("calls_sent", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_push_subscriptions_ticket_id_tickets", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_push_subscriptions"),
        sa.UniqueConstraint("endpoint", name="uq_push_subscriptions_endpoint"),
    )
    op.create_index("ix_push_subscriptions_ticket_id", "push_subscriptions", ["ticket_id"])
    op.create_table(
        "service_remote",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("notify_ahead", sa.Integer(), nullable=False),
        sa.Column("remote_daily_cap", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name="fk_service_remote_service_id_services", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("service_id", name="pk_service_remote"),
    )

    # How each ticket was issued. Last year's tickets: a staff member's were issued at reception, the rest at a
    # kiosk (there was no other way then).
    op.add_column("tickets", sa.Column("channel", sa.String(length=8), server_default="kiosk", nullable=False))
    op.execute("UPDATE tickets SET channel = 'staff' WHERE issued_by_staff_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("channel")
    op.drop_table("service_remote")
    op.drop_index("ix_push_subscriptions_ticket_id", table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
    op.drop_table("push_state")
    op.drop_index("ix_webhook_deliveries_endpoint_id", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
