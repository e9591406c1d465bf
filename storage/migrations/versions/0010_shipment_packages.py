"""shipment packages: a shipment of several packages (colli), each with its own tracking
number, weight and size

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shipment_packages",
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("shipment_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("package_number", sa.Integer(), nullable=False),
        sa.Column("package_count", sa.Integer(), nullable=False),
        sa.Column("container", sa.String(length=32), nullable=True),
        sa.Column("weight_grams", sa.Integer(), nullable=False),
        sa.Column("length_mm", sa.Integer(), nullable=False),
        sa.Column("width_mm", sa.Integer(), nullable=False),
        sa.Column("height_mm", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("tracking_number"),
        sa.UniqueConstraint("shipment_id", "package_number", name="uq_shipment_packages_number"),
    )
    op.create_index("ix_shipment_packages_shipment_id", "shipment_packages", ["shipment_id"])
    op.create_index("ix_shipment_packages_order_id", "shipment_packages", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_shipment_packages_order_id", table_name="shipment_packages")
    op.drop_index("ix_shipment_packages_shipment_id", table_name="shipment_packages")
    op.drop_table("shipment_packages")
