"""partial shipments: an order may ship in parts, each with its own pick list, packing plan,
shipment and invoice

Revision ID: 0017
Revises: 0004b, 0015b, 0016

Existing rows become part 1. The keys that said "one per order" now say "one per order and
part": pick lists (unique order id → unique (order id, part)), packing plans and invoices
(primary key order id → (order id, part)); an order keeps one held reservation per SKU, beside
the shipped rows of parts that left.
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
# A merge: the tables it changes come from both branches.
down_revision: str | Sequence[str] | None = ("0004b", "0015b", "0016")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def _part() -> sa.Column:
    return sa.Column("part", sa.Integer(), nullable=False, server_default="1")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.add_column("orders", sa.Column("ship_partial", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("shipments", _part())
    op.add_column("invoices", sa.Column("discount_amount", sa.Numeric(12, 2), nullable=True))

    # SQLite rebuilds a table to change its keys; the copy is declared here (the unnamed unique
    # order id of pick lists cannot be dropped by name there).
    if _sqlite():
        metadata = sa.MetaData()
        pick_lists = sa.Table(
            "pick_lists", metadata,
            sa.Column("id", sa.String(length=40), primary_key=True),
            sa.Column("order_id", sa.String(length=40), sa.ForeignKey("orders.id"), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("route_length_m", sa.Numeric(10, 2), nullable=False),
            sa.Column("s_shape_length_m", sa.Numeric(10, 2), nullable=False),
            sa.Column("route_exact", sa.Boolean(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("picked_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("wave_id", sa.String(length=40), sa.ForeignKey("waves.id", name="fk_pick_lists_wave_id"),
                      nullable=True),
            sa.Column("tote", sa.Integer(), nullable=True),
            sa.Index("ix_pick_lists_status", "status"),
            sa.Index("ix_pick_lists_wave_id", "wave_id"),
        )
        with op.batch_alter_table("pick_lists", recreate="always", copy_from=pick_lists) as batch:
            batch.add_column(_part())
            batch.add_column(sa.Column("units", sa.JSON(), nullable=True))
            batch.create_unique_constraint("uq_pick_lists_order_part", ["order_id", "part"])
            batch.create_index("ix_pick_lists_order_id", ["order_id"])
        for table in ("packing_plans", "invoices"):
            with warnings.catch_warnings():  # SQLAlchemy notes the key's new columns: that is the point
                warnings.simplefilter("ignore")
                with op.batch_alter_table(table, recreate="always") as batch:
                    batch.add_column(_part())
                    batch.create_primary_key(f"pk_{table}", ["order_id", "part"])
    else:
        op.drop_constraint("pick_lists_order_id_key", "pick_lists", type_="unique")
        op.add_column("pick_lists", _part())
        op.add_column("pick_lists", sa.Column("units", sa.JSON(), nullable=True))
        op.create_unique_constraint("uq_pick_lists_order_part", "pick_lists", ["order_id", "part"])
        op.create_index("ix_pick_lists_order_id", "pick_lists", ["order_id"])
        for table in ("packing_plans", "invoices"):
            op.drop_constraint(f"{table}_pkey", table, type_="primary")
            op.add_column(table, _part())
            op.create_primary_key(f"{table}_pkey", table, ["order_id", "part"])

    for table in ("payments", "sandbox_payment_intents"):  # room for "partially_captured"
        with op.batch_alter_table(table) as batch:
            batch.alter_column("status", type_=sa.String(length=32), existing_type=sa.String(length=16),
                               existing_nullable=False)

    with op.batch_alter_table("reservations") as batch:
        batch.drop_constraint("uq_reservations_order_sku", type_="unique")
    op.create_index("uq_reservations_held", "reservations", ["order_id", "sku"], unique=True,
                    sqlite_where=sa.text("status = 'held'"), postgresql_where=sa.text("status = 'held'"))


def downgrade() -> None:
    raise NotImplementedError("partial shipments cannot be folded back into one per order")
