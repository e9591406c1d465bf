"""dispatches: the packages one carrier collects in one vehicle, with their load plan

Revision ID: 0015
Revises: 0014
Depends on: 0011 (its packages reference shipment_packages, made on another branch)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
# shipment_packages comes from 0010 on the branch that ends in 0011: without this, "heads" may
# build this table first and PostgreSQL refuses the foreign key.
depends_on: str | Sequence[str] | None = "0011"


def upgrade() -> None:
    op.create_table(
        "dispatches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("vehicle", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stops", sa.Integer(), nullable=False),
        sa.Column("loaded", sa.Integer(), nullable=False),
        sa.Column("left_out", sa.Integer(), nullable=False),
        sa.Column("weight_grams", sa.Integer(), nullable=False),
        sa.Column("volume_utilisation", sa.Numeric(5, 4), nullable=False),
        sa.Column("weight_utilisation", sa.Numeric(5, 4), nullable=False),
        sa.Column("load_length_mm", sa.Integer(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("plan_sound", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dispatches_carrier", "dispatches", ["carrier"])
    op.create_index("ix_dispatches_status", "dispatches", ["status"])
    op.create_index("ix_dispatches_created_at", "dispatches", ["created_at"])
    op.create_table(
        "dispatch_packages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dispatch_id", sa.String(length=40), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("shipment_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("stop", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=24), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("open_claim", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["dispatch_id"], ["dispatches.id"]),
        sa.ForeignKeyConstraint(["tracking_number"], ["shipment_packages.tracking_number"]),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dispatch_id", "tracking_number", name="uq_dispatch_packages_package"),
        sa.UniqueConstraint("open_claim", name="uq_dispatch_packages_open_claim"),
    )
    op.create_index("ix_dispatch_packages_dispatch_id", "dispatch_packages", ["dispatch_id"])
    op.create_index("ix_dispatch_packages_tracking_number", "dispatch_packages", ["tracking_number"])
    op.create_index("ix_dispatch_packages_order_id", "dispatch_packages", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_dispatch_packages_order_id", table_name="dispatch_packages")
    op.drop_index("ix_dispatch_packages_tracking_number", table_name="dispatch_packages")
    op.drop_index("ix_dispatch_packages_dispatch_id", table_name="dispatch_packages")
    op.drop_table("dispatch_packages")
    op.drop_index("ix_dispatches_created_at", table_name="dispatches")
    op.drop_index("ix_dispatches_status", table_name="dispatches")
    op.drop_index("ix_dispatches_carrier", table_name="dispatches")
    op.drop_table("dispatches")
