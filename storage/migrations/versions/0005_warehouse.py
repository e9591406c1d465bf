"""warehouse locations, bin stock, pick lists and packing plans

Revision ID: 0005
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "warehouse_locations",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("zone", sa.String(length=8), nullable=False),
        sa.Column("aisle", sa.Integer(), nullable=False),
        sa.Column("rack", sa.Integer(), nullable=False),
        sa.Column("shelf", sa.Integer(), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("x_mm", sa.Integer(), nullable=False),
        sa.Column("y_mm", sa.Integer(), nullable=False),
        sa.Column("z_mm", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "bin_stock",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("location_code", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("lot", sa.String(length=32), server_default="", nullable=False),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("allocated", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("quantity >= 0", name="ck_bin_stock_quantity_non_negative"),
        sa.CheckConstraint("allocated >= 0 AND allocated <= quantity", name="ck_bin_stock_allocated_within_quantity"),
        sa.ForeignKeyConstraint(["location_code"], ["warehouse_locations.code"]),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("location_code", "sku", "lot", name="uq_bin_stock_location_sku_lot"),
    )
    op.create_index("ix_bin_stock_location_code", "bin_stock", ["location_code"])
    op.create_index("ix_bin_stock_sku", "bin_stock", ["sku"])
    op.create_table(
        "pick_lists",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("route_length_m", sa.Numeric(10, 2), nullable=False),
        sa.Column("s_shape_length_m", sa.Numeric(10, 2), nullable=False),
        sa.Column("route_exact", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("picked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
    )
    op.create_index("ix_pick_lists_status", "pick_lists", ["status"])
    op.create_table(
        "pick_list_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pick_list_id", sa.String(length=40), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("bin_stock_id", sa.Integer(), nullable=False),
        sa.Column("location_code", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("picked", sa.Integer(), nullable=False),
        sa.Column("picked_by", sa.String(length=100), nullable=True),
        sa.Column("picked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["bin_stock_id"], ["bin_stock.id"]),
        sa.ForeignKeyConstraint(["location_code"], ["warehouse_locations.code"]),
        sa.ForeignKeyConstraint(["pick_list_id"], ["pick_lists.id"]),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pick_list_id", "step", name="uq_pick_list_lines_step"),
    )
    op.create_index("ix_pick_list_lines_pick_list_id", "pick_list_lines", ["pick_list_id"])
    op.create_table(
        "packing_plans",
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("containers", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("order_id"),
    )


def downgrade() -> None:
    op.drop_table("packing_plans")
    op.drop_index("ix_pick_list_lines_pick_list_id", table_name="pick_list_lines")
    op.drop_table("pick_list_lines")
    op.drop_index("ix_pick_lists_status", table_name="pick_lists")
    op.drop_table("pick_lists")
    op.drop_index("ix_bin_stock_sku", table_name="bin_stock")
    op.drop_index("ix_bin_stock_location_code", table_name="bin_stock")
    op.drop_table("bin_stock")
    op.drop_table("warehouse_locations")
