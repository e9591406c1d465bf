"""waves: picking rounds of several orders walked as one route, one tote per order

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "waves",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("route_length_m", sa.Numeric(10, 2), nullable=False),
        sa.Column("single_routes_m", sa.Numeric(10, 2), nullable=False),
        sa.Column("route_exact", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("picked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_waves_status", "waves", ["status"])
    op.create_table(
        "wave_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("wave_id", sa.String(length=40), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("pick_list_line_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["wave_id"], ["waves.id"]),
        sa.ForeignKeyConstraint(["pick_list_line_id"], ["pick_list_lines.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("wave_id", "step", name="uq_wave_steps_step"),
        sa.UniqueConstraint("pick_list_line_id"),
    )
    op.create_index("ix_wave_steps_wave_id", "wave_steps", ["wave_id"])
    with op.batch_alter_table("pick_lists") as batch:
        batch.add_column(sa.Column("wave_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("tote", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_pick_lists_wave_id", "waves", ["wave_id"], ["id"])
        batch.create_index("ix_pick_lists_wave_id", ["wave_id"])


def downgrade() -> None:
    with op.batch_alter_table("pick_lists") as batch:
        batch.drop_index("ix_pick_lists_wave_id")
        batch.drop_constraint("fk_pick_lists_wave_id", type_="foreignkey")
        batch.drop_column("tote")
        batch.drop_column("wave_id")
    op.drop_index("ix_wave_steps_wave_id", table_name="wave_steps")
    op.drop_table("wave_steps")
    op.drop_index("ix_waves_status", table_name="waves")
    op.drop_table("waves")
