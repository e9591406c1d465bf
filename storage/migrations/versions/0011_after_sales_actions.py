"""after-sales actions: reshipment orders linked to their case and original order, case
refunds, what resolving a case set in motion, and loyalty codes issued once per order

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(12, 2, asdecimal=True)


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("reshipment_of", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("case_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key("fk_orders_reshipment_of", "orders", ["reshipment_of"], ["id"])
        batch.create_index("ix_orders_case_id", ["case_id"])
    with op.batch_alter_table("service_cases") as batch:
        batch.add_column(sa.Column("action_kind", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("refund_amount", MONEY, nullable=True))
        batch.add_column(sa.Column("action_status", sa.String(length=16), nullable=True))
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(sa.Column("case_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key("fk_refunds_case_id", "service_cases", ["case_id"], ["id"])
        batch.create_index("ix_refunds_case_id", ["case_id"])
    with op.batch_alter_table("discount_codes") as batch:
        batch.add_column(sa.Column("order_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("dedupe_key", sa.String(length=255), nullable=True))
        batch.create_unique_constraint("uq_discount_codes_dedupe_key", ["dedupe_key"])
        batch.create_index("ix_discount_codes_order_id", ["order_id"])


def downgrade() -> None:
    with op.batch_alter_table("discount_codes") as batch:
        batch.drop_index("ix_discount_codes_order_id")
        batch.drop_constraint("uq_discount_codes_dedupe_key", type_="unique")
        batch.drop_column("dedupe_key")
        batch.drop_column("order_id")
    with op.batch_alter_table("refunds") as batch:
        batch.drop_index("ix_refunds_case_id")
        batch.drop_constraint("fk_refunds_case_id", type_="foreignkey")
        batch.drop_column("case_id")
    with op.batch_alter_table("service_cases") as batch:
        batch.drop_column("action_status")
        batch.drop_column("refund_amount")
        batch.drop_column("action_kind")
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_case_id")
        batch.drop_constraint("fk_orders_reshipment_of", type_="foreignkey")
        batch.drop_column("case_id")
        batch.drop_column("reshipment_of")
