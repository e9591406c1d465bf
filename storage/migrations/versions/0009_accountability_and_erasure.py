"""accountability and personal data: API key administration, the action log, who booked a
stock movement or refund, and the erasure of a customer's personal data

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("revoked = false")


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("created_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    # Fails if two active keys share a name: revoke or rename one first (every recorded action
    # must name one key).
    op.create_index("uq_api_keys_active_name", "api_keys", ["name"], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)

    with op.batch_alter_table("stock_movements") as batch:
        batch.add_column(sa.Column("actor", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("actor_role", sa.String(length=16), nullable=True))
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(sa.Column("actor", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("actor_role", sa.String(length=16), nullable=True))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "staff_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("person", sa.String(length=100), nullable=True),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("return_id", sa.String(length=40), nullable=True),
        sa.Column("purchase_order_id", sa.String(length=40), nullable=True),
        sa.Column("sku", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staff_actions_order_id", "staff_actions", ["order_id"])
    op.create_index("ix_staff_actions_occurred_at", "staff_actions", ["occurred_at"])

    op.create_table(
        "customer_erasures",
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_by", sa.String(length=100), nullable=False),
        sa.Column("erased_by_role", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("customer_id"),
    )


def downgrade() -> None:
    op.drop_table("customer_erasures")
    op.drop_table("staff_actions")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("erased_at")
    with op.batch_alter_table("refunds") as batch:
        batch.drop_column("actor_role")
        batch.drop_column("actor")
    with op.batch_alter_table("stock_movements") as batch:
        batch.drop_column("actor_role")
        batch.drop_column("actor")
    op.drop_index("uq_api_keys_active_name", table_name="api_keys")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("revoked_by")
        batch.drop_column("revoked_at")
        batch.drop_column("created_by")
