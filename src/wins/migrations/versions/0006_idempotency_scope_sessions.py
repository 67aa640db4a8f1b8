"""Idempotency keys belong to their sender; sign-in throttle counters (issue 11).

- tickets.idempotency_scope ("device:<id>" / "staff:<id>") and the unique constraint moves from the key alone
  to (scope, key): a second kiosk sending the same key got the first kiosk's ticket and tracking token.
  Existing keys get the scope of the device or staff member that issued their ticket.
- login_throttle: failed sign-in counters per client address and per client address and username, shared by
  every worker (wins.staff.throttle).

Web sessions and API tokens end server-side on sign-out through staff_users.token_version, which exists since
0001 (no schema change needed for that).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wins.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", wins.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", wins.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", wins.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_index(op.f("ix_login_throttle_account"), "login_throttle", ["account"], unique=False)
    op.create_index(op.f("ix_login_throttle_expires_at"), "login_throttle", ["expires_at"], unique=False)

    op.add_column("tickets", sa.Column("idempotency_scope", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE tickets SET idempotency_scope = CASE"
        " WHEN issued_by_device_id IS NOT NULL THEN 'device:' || issued_by_device_id"
        " ELSE 'staff:' || COALESCE(issued_by_staff_id, 0) END"
        " WHERE idempotency_key IS NOT NULL"
    )
    # SQLite cannot drop a table constraint in place: batch mode rebuilds the table (indexes included).
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_constraint("uq_tickets_idempotency_key", type_="unique")
        batch_op.create_unique_constraint("uq_tickets_idempotency_scope_key", ["idempotency_scope", "idempotency_key"])


def downgrade() -> None:
    # One key may now be on several tickets (one per sender); keys only matter for retries within seconds.
    op.execute("UPDATE tickets SET idempotency_key = NULL")
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_constraint("uq_tickets_idempotency_scope_key", type_="unique")
        batch_op.drop_column("idempotency_scope")
        batch_op.create_unique_constraint("uq_tickets_idempotency_key", ["idempotency_key"])
    op.drop_index(op.f("ix_login_throttle_expires_at"), table_name="login_throttle")
    op.drop_index(op.f("ix_login_throttle_account"), table_name="login_throttle")
    op.drop_table("login_throttle")
