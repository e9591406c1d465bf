"""containers: the container catalogue as data, seeded with the planner's default catalogue

Revision ID: 0016
Revises: 0014

The rows are written out here, not imported from the planner: a migration keeps meaning what
it meant when it ran, whatever the code's default catalogue becomes later.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# code, name, kind, inner length, width, height (mm), max contents weight, tare (g), cost (euro)
SEED: list[tuple[str, str, str, int, int, int, int, int, str]] = [
    ("BOX-S", "Box S", "box", 300, 200, 150, 10_000, 150, "0.45"),
    ("BOX-M", "Box M", "box", 400, 300, 250, 20_000, 300, "0.85"),
    ("BOX-L", "Box L", "box", 600, 400, 400, 30_000, 550, "1.40"),
    ("CRATE", "Wooden crate", "crate", 1000, 600, 600, 100_000, 12_000, "18.00"),
    ("PALLET-EUR", "Euro pallet 1200x800", "pallet", 1200, 800, 1500, 800_000, 25_000, "15.00"),
    ("PALLET-LONG", "Long-goods pallet 1800x800", "pallet", 1800, 800, 1500, 800_000, 35_000, "22.00"),
]


def upgrade() -> None:
    containers = op.create_table(
        "containers",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("length_mm", sa.Integer(), nullable=False),
        sa.Column("width_mm", sa.Integer(), nullable=False),
        sa.Column("height_mm", sa.Integer(), nullable=False),
        sa.Column("max_weight_grams", sa.Integer(), nullable=False),
        sa.Column("tare_grams", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Numeric(12, 2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length_mm > 0 AND width_mm > 0 AND height_mm > 0", name="ck_containers_dimensions"),
        sa.CheckConstraint("tare_grams >= 0 AND tare_grams < max_weight_grams", name="ck_containers_weights"),
        sa.CheckConstraint("cost >= 0", name="ck_containers_cost"),
        sa.CheckConstraint("kind IN ('box', 'crate', 'pallet')", name="ck_containers_kind"),
        sa.PrimaryKeyConstraint("code"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(containers, [
        {"code": code, "name": name, "kind": kind, "length_mm": length, "width_mm": width, "height_mm": height,
         "max_weight_grams": max_weight, "tare_grams": tare, "cost": Decimal(cost), "active": True,
         "updated_by": "migration 0016", "updated_at": now}
        for code, name, kind, length, width, height, max_weight, tare, cost in SEED
    ])


def downgrade() -> None:
    op.drop_table("containers")
