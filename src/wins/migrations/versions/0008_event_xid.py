"""Event order without a global lock (PostgreSQL): each event records the transaction-id horizon after its id
was drawn, so readers can tell which ids are final (docs/architecture.md, "Event order").

On PostgreSQL a BEFORE INSERT trigger draws the event's id itself: it first makes sure the writing transaction
has its transaction id, then draws the id, then stores `horizon_xid`, one more than the highest transaction id
of any transaction running at that moment, and sends the NOTIFY that wakes the event hubs (so a writer
needs no statement of its own for it). Events that existed before this migration keep NULL: their
transactions ended long ago. On SQLite the column exists (the models are one schema) and stays NULL: SQLite's
writers are serial.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The trigger function. Order matters (the proof in docs/architecture.md relies on it):
#   1. pg_current_xact_id(): the transaction has its transaction id before it draws an event id;
#   2. nextval: the event id;
#   3. the horizon: one more than the highest transaction id of any transaction running now, read live from the
#      process array (pg_stat_get_activity, its per-transaction cache cleared first). Every transaction that drew
#      an event id before step 2 had its id by then (step 1), so it has either ended or is counted here.
#      (A snapshot's xmax would not do: PostgreSQL reuses a snapshot until some transaction ends, so its xmax can
#      be below the id of a transaction that started since.) backend_xid is the 32-bit form; running ids are
#      within 2^31 of this transaction's own, which gives their full 64-bit value.
#   4. a NOTIFY for the hubs of every worker (delivered at commit, once per transaction however many events).
EVENT_POSITION_FUNCTION = """
CREATE OR REPLACE FUNCTION wins_event_position() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    own bigint;
    ahead bigint;
BEGIN
    own := pg_current_xact_id()::text::bigint;
    NEW.id := nextval('{sequence}'::regclass);
    PERFORM pg_stat_clear_snapshot();
    SELECT max((a.backend_xid::text::bigint - own % 4294967296 + 6442450944) % 4294967296 - 2147483648)
        INTO ahead FROM pg_stat_get_activity(NULL) AS a WHERE a.backend_xid IS NOT NULL;
    NEW.horizon_xid := (own + greatest(coalesce(ahead, 0), 0) + 1)::text::xid8;
    PERFORM pg_notify('wins_events', '');
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if not postgres:
        with op.batch_alter_table("events") as batch:
            batch.add_column(sa.Column("horizon_xid", sa.BigInteger(), nullable=True))
        return
    op.execute("ALTER TABLE events ADD COLUMN horizon_xid xid8")
    sequence = op.get_bind().execute(sa.text("SELECT pg_get_serial_sequence('events', 'id')")).scalar_one()
    op.execute(EVENT_POSITION_FUNCTION.format(sequence=sequence))
    # The trigger draws the id (after the transaction id), so the column default must not draw one first.
    op.execute("ALTER TABLE events ALTER COLUMN id DROP DEFAULT")
    op.execute(
        "CREATE TRIGGER events_position BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION wins_event_position()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("events") as batch:
            batch.drop_column("horizon_xid")
        return
    sequence = op.get_bind().execute(sa.text("SELECT pg_get_serial_sequence('events', 'id')")).scalar_one()
    op.execute("DROP TRIGGER events_position ON events")
    op.execute("DROP FUNCTION wins_event_position()")
    op.execute(f"ALTER TABLE events ALTER COLUMN id SET DEFAULT nextval('{sequence}'::regclass)")
    op.execute("ALTER TABLE events DROP COLUMN horizon_xid")
