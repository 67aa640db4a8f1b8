"""Queue lengths kept beside the number sequence: issuing answers "people ahead" without counting the queue.

`ticket_sequences` gets `waiting` and `waiting_priority`: how many tickets of the service and business day are
waiting (and how many of those are priority). The issue path bumps them in the same upsert that hands out the
number; every other change of a ticket keeps them in step (wins.tickets.service, `_track_queue_changes`).
Existing databases are backfilled from the tickets table.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_sequences") as batch_op:
        batch_op.add_column(sa.Column("waiting", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("waiting_priority", sa.Integer(), nullable=False, server_default="0"))
    # A ticket transferred to a service that issued nothing that day has no row yet: add one (numbering from 1).
    op.execute(
        """
        INSERT INTO ticket_sequences (service_id, business_day, last_seq, waiting, waiting_priority)
        SELECT DISTINCT t.service_id, t.business_day, 0, 0, 0 FROM tickets t
        WHERE t.status = 'waiting' AND NOT EXISTS (
            SELECT 1 FROM ticket_sequences s WHERE s.service_id = t.service_id AND s.business_day = t.business_day)
        """
    )
    op.execute(
        """
        UPDATE ticket_sequences SET
            waiting = (SELECT count(*) FROM tickets t WHERE t.status = 'waiting'
                       AND t.service_id = ticket_sequences.service_id
                       AND t.business_day = ticket_sequences.business_day),
            waiting_priority = (SELECT count(*) FROM tickets t WHERE t.status = 'waiting' AND t.priority
                       AND t.service_id = ticket_sequences.service_id
                       AND t.business_day = ticket_sequences.business_day)
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("ticket_sequences") as batch_op:
        batch_op.drop_column("waiting_priority")
        batch_op.drop_column("waiting")
