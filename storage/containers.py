"""The container catalogue: the boxes, crates and pallets the pack station has, with their
inner size, weight limit, tare and cost. Operations add and change them (``/warehouse/
containers``); the packing activity plans with the active ones. A container is retired
(``active`` false), never deleted: the packing plans already stored name it.

Migration 0016 seeds a new database with the planner's default catalogue
(``activities.planning.packing.CONTAINERS``); ``seed_default_containers`` adds any of those
that a database lacks (the demo seed, and tests on a PostgreSQL database emptied per test).
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from activities.planning.packing import CONTAINERS, KINDS, ContainerType
from storage.models import Base, utcnow


class Container(Base):
    """One container type. Sizes are inner millimetres (a pallet's height is its load height);
    weights are grams (``max_weight_grams`` is what it may hold, ``tare_grams`` its own)."""

    __tablename__ = "containers"
    __table_args__ = (
        CheckConstraint("length_mm > 0 AND width_mm > 0 AND height_mm > 0", name="ck_containers_dimensions"),
        CheckConstraint("tare_grams >= 0 AND tare_grams < max_weight_grams", name="ck_containers_weights"),
        CheckConstraint("cost >= 0", name="ck_containers_cost"),
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in KINDS)})", name="ck_containers_kind"),
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    length_mm: Mapped[int] = mapped_column(Integer)
    width_mm: Mapped[int] = mapped_column(Integer)
    height_mm: Mapped[int] = mapped_column(Integer)
    max_weight_grams: Mapped[int] = mapped_column(Integer)
    tare_grams: Mapped[int] = mapped_column(Integer)
    cost: Mapped[Decimal]  # euro per container used
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def volume(self) -> int:
        return self.length_mm * self.width_mm * self.height_mm


def container_type(row: Container) -> ContainerType:
    """The planner's view of a row (cost in cents, as the packing plan carries it)."""
    return ContainerType(code=row.code, name=row.name, kind=row.kind, length=row.length_mm, width=row.width_mm,
                         height=row.height_mm, max_weight_g=row.max_weight_grams, tare_g=row.tare_grams,
                         cost_cents=int(row.cost * 100))


def container_row(c: ContainerType, *, updated_by: str) -> Container:
    return Container(code=c.code, name=c.name, kind=c.kind, length_mm=c.length, width_mm=c.width, height_mm=c.height,
                     max_weight_grams=c.max_weight_g, tare_grams=c.tare_g, cost=Decimal(c.cost_cents) / 100,
                     active=True, updated_by=updated_by)


async def list_containers(session: AsyncSession, *, active: bool | None = None) -> list[Container]:
    """The catalogue by kind (boxes, crates, pallets), then smallest first."""
    query = select(Container)
    if active is not None:
        query = query.where(Container.active == active)
    rows = (await session.execute(query)).scalars().all()
    return sorted(rows, key=lambda r: (KINDS.index(r.kind), r.volume, r.code))


async def active_catalogue(session: AsyncSession) -> tuple[ContainerType, ...]:
    """What the packing planner may use: the active containers."""
    return tuple(container_type(r) for r in await list_containers(session, active=True))


async def seed_default_containers(session: AsyncSession) -> int:
    """Add the default containers the database lacks (by code); returns how many. A container
    ops changed or retired is left as it is."""
    have = set((await session.execute(select(Container.code))).scalars())
    missing = [c for c in CONTAINERS if c.code not in have]
    session.add_all(container_row(c, updated_by="seed") for c in missing)
    await session.flush()
    return len(missing)
