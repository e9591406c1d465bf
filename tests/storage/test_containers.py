"""The container catalogue in the database (CI runs this file on SQLite and PostgreSQL): what
migration 0016 seeds, the rows the database itself refuses, the planner's view of the active
containers, and the demo seed that adds only what is missing."""

from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from activities.planning.packing import CONTAINERS
from storage.containers import Container, active_catalogue, container_type, list_containers, seed_default_containers
from storage.db import create_engine, create_session_factory, transaction
from storage.migrate import upgrade_async
from tests.factories import seed


async def test_migration_0016_seeds_the_default_catalogue(tmp_path) -> None:
    # A database of its own: the PostgreSQL test database is emptied before every test.
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as s:
            rows = await list_containers(s)
    finally:
        await engine.dispose()
    assert [container_type(r) for r in rows] == list(CONTAINERS)
    assert all(r.active and r.updated_by == "migration 0016" for r in rows)


def _box(**overrides) -> Container:
    values = dict(code="BOX-T", name="Test box", kind="box", length_mm=300, width_mm=200, height_mm=100,
                  max_weight_grams=5_000, tare_grams=100, cost=Decimal("0.50"), updated_by="test")
    return Container(**{**values, **overrides})


@pytest.mark.parametrize("bad", [
    {"tare_grams": 5_000}, {"tare_grams": -1}, {"length_mm": 0}, {"height_mm": -5}, {"kind": "bag"},
    {"cost": Decimal("-0.01")}, {"code": "BOX-S"},
], ids=["tare-at-limit", "negative-tare", "zero-length", "negative-height", "unknown-kind", "negative-cost",
        "existing-code"])
async def test_the_database_refuses_a_container_that_makes_no_sense(sessions, bad) -> None:
    await seed(sessions)
    with pytest.raises(IntegrityError):
        async with transaction(sessions) as s:
            s.add(_box(**bad))
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Container)) == len(CONTAINERS)


async def test_the_planner_gets_the_active_containers_by_kind_smallest_first(sessions) -> None:
    await seed(sessions)
    async with transaction(sessions) as s:
        s.add(_box(code="BOX-XS", length_mm=200, width_mm=100, height_mm=100, cost=Decimal("0.25")))
        s.add(_box(code="CRATE-2", kind="crate", length_mm=2_000, width_mm=1_000, height_mm=1_000,
                   max_weight_grams=200_000, tare_grams=30_000, cost=Decimal("40.00")))
        (await s.get(Container, "BOX-M")).active = False
    async with sessions() as s:
        catalogue = await active_catalogue(s)
        retired = await list_containers(s, active=False)
    assert [c.code for c in catalogue] == ["BOX-XS", "BOX-S", "BOX-L", "CRATE", "CRATE-2", "PALLET-EUR",
                                           "PALLET-LONG"]
    assert [c.cost_cents for c in catalogue[:2]] == [25, 45]
    assert [r.code for r in retired] == ["BOX-M"]


async def test_the_demo_seed_adds_only_missing_containers_and_keeps_changed_ones(sessions) -> None:
    await seed(sessions)
    async with transaction(sessions) as s:
        await s.execute(delete(Container).where(Container.code == "BOX-M"))
        box_s = await s.get(Container, "BOX-S")
        box_s.cost, box_s.active = Decimal("0.60"), False
    async with transaction(sessions) as s:
        assert await seed_default_containers(s) == 1
    async with transaction(sessions) as s:
        assert await seed_default_containers(s) == 0
    async with sessions() as s:
        box_s, box_m = await s.get(Container, "BOX-S"), await s.get(Container, "BOX-M")
    assert (box_s.cost, box_s.active) == (Decimal("0.60"), False)
    assert (box_m.active, box_m.updated_by, box_m.cost) == (True, "seed", Decimal("0.85"))
