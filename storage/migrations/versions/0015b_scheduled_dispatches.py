"""scheduled dispatches: who made a dispatch (staff or the carrier's pickup schedule), and
for the schedule's, the pickup it is for (one dispatch per carrier and pickup)

Revision ID: 0015b
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015b"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dispatches") as batch:
        # Every dispatch made before this was made by staff.
        batch.add_column(sa.Column("made_by", sa.String(length=16), nullable=False, server_default="staff"))
        batch.add_column(sa.Column("pickup_at", sa.DateTime(timezone=True), nullable=True))
        # carrier@pickup time: a repeated tick of the schedule finds the dispatch it made.
        batch.add_column(sa.Column("pickup_key", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_dispatches_pickup_key", ["pickup_key"])


def downgrade() -> None:
    with op.batch_alter_table("dispatches") as batch:
        batch.drop_constraint("uq_dispatches_pickup_key", type_="unique")
        batch.drop_column("pickup_key")
        batch.drop_column("pickup_at")
        batch.drop_column("made_by")
