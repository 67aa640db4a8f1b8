"""Repair databases created by the first release of 0001: ticket numbers unique per *issued* service.

The first release of 0001 made `uq_tickets_service_day_seq` unique over (service_id, business_day, seq). A
later commit edited the released 0001 to (issued_service_id, business_day, seq) — transfers keep their number,
so a ticket moved to another service must not collide with that service's own numbers — but a database
created by the early 0001 is at revision 0001 already and never ran the edit. There, transferring a ticket
whose number the target service has also issued fails with a permanent 409. Released migrations are never
edited again (tests/test_migrations.py pins them); this one finds the old rule by name and columns and
replaces it. On a database made by the corrected 0001 it changes nothing.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "uq_tickets_service_day_seq"
EARLY = ["service_id", "business_day", "seq"]
RIGHT = ["issued_service_id", "business_day", "seq"]


def _columns(bind: sa.engine.Connection) -> list[str] | None:
    for constraint in sa.inspect(bind).get_unique_constraints("tickets"):
        if constraint["name"] == NAME:
            return list(constraint["column_names"])
    return None


def _replace(columns: list[str]) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(NAME, "tickets", type_="unique")
        op.create_unique_constraint(NAME, "tickets", columns)
        return
    # SQLite cannot drop a constraint: the batch rebuilds the table. Its reflection may lose the WHERE of
    # partial indexes, so every index of the table is put back from its own original SQL afterwards.
    indexes = bind.execute(
        sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tickets' AND sql IS NOT NULL")
    ).all()
    with op.batch_alter_table("tickets", recreate="always") as batch_op:
        batch_op.drop_constraint(NAME, type_="unique")
        batch_op.create_unique_constraint(NAME, columns)
    for name, sql in indexes:
        op.execute(sa.text(f'DROP INDEX IF EXISTS "{name}"'))
        op.execute(sa.text(sql))


def upgrade() -> None:
    if _columns(op.get_bind()) == EARLY:
        _replace(RIGHT)


def downgrade() -> None:
    # Going back to 0004 keeps the corrected rule: the early one was a bug, not a schema to return to.
    pass
