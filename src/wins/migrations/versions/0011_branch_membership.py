"""Branch membership: a staff member's role in each branch (wins.staff.models.StaffBranchRole).

Every existing account gets its current role in every existing branch, so a single-branch site upgrades
unchanged (and a site that already had several branches keeps letting everyone act in all of them, as before,
until an admin narrows it down).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_branch_roles",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("staff_id", "branch_id"),
    )
    op.create_index("ix_staff_branch_roles_branch_id", "staff_branch_roles", ["branch_id"])
    op.execute(
        "INSERT INTO staff_branch_roles (staff_id, branch_id, role)"
        " SELECT staff_users.id, branches.id, staff_users.role FROM staff_users CROSS JOIN branches"
    )


def downgrade() -> None:
    op.drop_index("ix_staff_branch_roles_branch_id", table_name="staff_branch_roles")
    op.drop_table("staff_branch_roles")
