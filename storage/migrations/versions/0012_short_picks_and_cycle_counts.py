"""short picks and cycle counts: units of a pick line no bin held, and the counts asked for
the bins found short

Revision ID: 0012
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
# Side by side with other work on 0009; the warehouse tables come from 0005, a branch of its own.
depends_on: str | Sequence[str] | None = "0005"

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    with op.batch_alter_table("pick_list_lines") as batch:
        batch.add_column(sa.Column("short", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "cycle_counts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("bin_stock_id", sa.Integer(), nullable=False),
        sa.Column("location_code", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("lot", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("pick_list_id", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_quantity", sa.Integer(), nullable=True),
        sa.Column("counted_quantity", sa.Integer(), nullable=True),
        sa.Column("counted_by", sa.String(length=100), nullable=True),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("counted_quantity >= 0", name="ck_cycle_counts_counted_non_negative"),
        sa.ForeignKeyConstraint(["bin_stock_id"], ["bin_stock.id"]),
        sa.ForeignKeyConstraint(["location_code"], ["warehouse_locations.code"]),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cycle_counts_status", "cycle_counts", ["status"])
    # One open count per bin stock row: two short picks of one bin at once ask for one count.
    op.create_index("uq_cycle_counts_open_bin", "cycle_counts", ["bin_stock_id"], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("uq_cycle_counts_open_bin", table_name="cycle_counts")
    op.drop_index("ix_cycle_counts_status", table_name="cycle_counts")
    op.drop_table("cycle_counts")
    with op.batch_alter_table("pick_list_lines") as batch:
        batch.drop_column("short")
