"""put-away tasks: goods that came in (receipts, returns, goods put back after a
cancellation) to be put into a bin

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "put_away_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column("suggested_location", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("location_code", sa.String(length=32), nullable=True),
        sa.Column("put_away_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("quantity > 0", name="ck_put_away_tasks_quantity_positive"),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"]),
        sa.ForeignKeyConstraint(["suggested_location"], ["warehouse_locations.code"]),
        sa.ForeignKeyConstraint(["location_code"], ["warehouse_locations.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_put_away_tasks_sku", "put_away_tasks", ["sku"])
    op.create_index("ix_put_away_tasks_status", "put_away_tasks", ["status"])


def downgrade() -> None:
    op.drop_index("ix_put_away_tasks_status", table_name="put_away_tasks")
    op.drop_index("ix_put_away_tasks_sku", table_name="put_away_tasks")
    op.drop_table("put_away_tasks")
