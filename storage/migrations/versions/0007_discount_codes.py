"""loyalty discount codes and their redemptions

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(12, 2, asdecimal=True)


def upgrade() -> None:
    op.create_table(
        "discount_codes",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", MONEY, nullable=False),
        sa.Column("min_order_value", MONEY, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=True),
        sa.Column("issued_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("uses >= 0", name="ck_discount_codes_uses_non_negative"),
        sa.CheckConstraint("uses <= max_uses", name="ck_discount_codes_uses_within_max"),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "discount_redemptions",
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["code"], ["discount_codes.code"]),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index("ix_discount_redemptions_code", "discount_redemptions", ["code"])


def downgrade() -> None:
    op.drop_table("discount_redemptions")
    op.drop_table("discount_codes")
