"""The container catalogue drives the packing plans: the activity plans with the active
containers in the database, so a container added or retired changes the plans made after it;
an item no active container takes is listed as unpacked. And the pure planner copes with any
catalogue (no pallets, no boxes, a container only some items fit)."""

from decimal import Decimal

from sqlalchemy import select, update
from temporalio.testing import ActivityEnvironment

from activities.planning.packing import CONTAINERS, MAX_BOXES, PADDING_MM, ContainerType, Item, plan_packing
from activities.planning.packing_check import check_plan
from activities.warehouse import WarehouseActivities, item_for
from domain.warehouse import PackingSummary, WarehouseRequest
from storage.containers import Container
from storage.db import transaction
from storage.models import Order, PackingPlanRecord, Product
from tests.factories import place_order, seed

env = ActivityEnvironment()
TEA_AND_MUG = [{"sku": "TEA-100", "quantity": 3}, {"sku": "MUG-001", "quantity": 1}]
BENCH_AND_MUG = [{"sku": "BENCH-500", "quantity": 1}, {"sku": "MUG-001", "quantity": 1}]


def _as_dicts(items: list[Item]) -> list[dict]:
    return [{"id": i.id, "length": i.length, "width": i.width, "height": i.height, "weight_g": i.weight_g,
             "fragile": i.fragile, "upright": i.upright} for i in items]


async def _plan(sessions, reference: str, lines: list[dict]) -> tuple[PackingSummary, dict]:
    """The packing plan the activity makes for a new order, checked by the independent checker."""
    order_id = await place_order(sessions, external_reference=reference, lines=lines)
    summary = await env.run(WarehouseActivities(sessions).plan_packing,
                            WarehouseRequest(order_id=order_id, idempotency_key=f"{order_id}:packing-plan"))
    async with sessions() as s:
        plan = (await s.get(PackingPlanRecord, (order_id, 1))).plan
        order = await s.get(Order, order_id)
        items = [item_for(await s.get(Product, line.sku), f"{line.line_no}.{n + 1}")
                 for line in order.lines for n in range(line.quantity)]
    packed = [i for i in items if i.id not in plan["unpacked"]]
    assert check_plan({**plan, "unpacked": []}, _as_dicts(packed), PADDING_MM) == []
    return summary, plan


async def _set(sessions, code: str, **values) -> None:
    async with transaction(sessions) as s:
        result = await s.execute(update(Container).where(Container.code == code).values(**values))
        assert result.rowcount == 1


async def _order_id(sessions, reference: str) -> str:
    async with sessions() as s:
        return (await s.execute(select(Order.id).where(Order.external_reference == reference))).scalar_one()


async def test_a_retired_box_is_not_planned_with_and_an_added_one_is(sessions) -> None:
    await seed(sessions)
    before, _ = await _plan(sessions, "CC-1", TEA_AND_MUG)
    assert before.containers == ["BOX-S"]

    await _set(sessions, "BOX-S", active=False)
    retired, _ = await _plan(sessions, "CC-2", TEA_AND_MUG)
    assert retired.containers == ["BOX-M"]  # the next size up

    async with transaction(sessions) as s:
        s.add(Container(code="BOX-XS", name="Box XS", kind="box", length_mm=250, width_mm=150, height_mm=120,
                        max_weight_grams=5_000, tare_grams=90, cost=Decimal("0.30"), updated_by="test"))
    added, plan = await _plan(sessions, "CC-3", TEA_AND_MUG)
    assert added.containers == ["BOX-XS"]
    [box] = plan["containers"]
    assert (box["inner"], box["max_weight_g"], box["tare_g"], box["cost_cents"]) == ([250, 150, 120], 5_000, 90, 30)

    # A plan once made stays as it was, whatever the catalogue does later.
    again = await env.run(WarehouseActivities(sessions).plan_packing, WarehouseRequest(
        order_id=(await _order_id(sessions, "CC-1")), idempotency_key="again"))
    assert again.containers == ["BOX-S"]


async def test_a_lower_weight_limit_moves_the_items_to_a_box_that_takes_them(sessions) -> None:
    await seed(sessions)
    await _set(sessions, "BOX-S", max_weight_grams=1_000)  # the mug and teas weigh 810 g: still fits
    light, _ = await _plan(sessions, "CC-4", TEA_AND_MUG)
    await _set(sessions, "BOX-S", max_weight_grams=800)
    heavy, _ = await _plan(sessions, "CC-5", TEA_AND_MUG)
    assert (light.containers, heavy.containers) == (["BOX-S"], ["BOX-M"])


async def test_an_item_no_active_container_takes_is_listed_unpacked(sessions) -> None:
    await seed(sessions)
    before, _ = await _plan(sessions, "CC-6", BENCH_AND_MUG)
    assert (sorted(before.containers), before.unpacked) == (["BOX-S", "PALLET-LONG"], [])

    await _set(sessions, "PALLET-LONG", active=False)  # the only one the bench (1.5 m, upright) fits
    after, plan = await _plan(sessions, "CC-7", BENCH_AND_MUG)
    assert (after.containers, after.unpacked) == (["BOX-S"], ["1.1"])
    assert plan["unpacked"] == ["1.1"]

    async with transaction(sessions) as s:
        await s.execute(update(Container).values(active=False))
    nothing, _ = await _plan(sessions, "CC-8", BENCH_AND_MUG)
    assert (nothing.containers, nothing.unpacked) == ([], ["1.1", "2.1"])


# The pure planner with catalogues other than the default.

BENCH = Item("bench", "BENCH-500", 1_500, 600, 800, 38_000, upright=True)
MUG = Item("mug", "MUG-001", 120, 90, 100, 450)
POSTER = Item("poster", "POSTER-1", 900, 60, 60, 300)
TUBE = ContainerType("TUBE", "Poster tube", "box", 1_000, 100, 100, 2_000, 120, 150)
BOXES = tuple(c for c in CONTAINERS if c.kind == "box")


def _checked(items: list[Item], catalogue: tuple[ContainerType, ...]) -> dict:
    plan = plan_packing(items, catalogue).to_dict()
    packed = [i for i in items if i.id not in plan["unpacked"]]
    assert check_plan({**plan, "unpacked": []}, _as_dicts(packed), PADDING_MM) == []
    return plan


def test_without_crates_and_pallets_a_bulky_item_is_unpacked_and_the_rest_boxed() -> None:
    plan = _checked([BENCH, MUG], BOXES)
    assert ([c["code"] for c in plan["containers"]], plan["unpacked"]) == (["BOX-S"], ["bench"])
    assert _checked([BENCH, MUG], ())["unpacked"] == ["bench", "mug"]


def test_without_boxes_small_items_go_on_a_crate_or_pallet() -> None:
    plan = _checked([MUG], tuple(c for c in CONTAINERS if c.kind != "box"))
    assert ([c["code"] for c in plan["containers"]], plan["unpacked"]) == (["CRATE"], [])


def test_an_item_too_long_for_the_largest_box_goes_in_another_box_that_takes_it() -> None:
    assert _checked([POSTER, MUG], BOXES)["unpacked"] == ["poster"]
    plan = _checked([POSTER, MUG], BOXES + (TUBE,))
    assert plan["unpacked"] == []
    where = {p["item_id"]: c["code"] for c in plan["containers"] for p in c["items"]}
    assert where == {"poster": "TUBE", "mug": "BOX-S"}


def test_a_large_order_stays_in_boxes_when_no_pallet_takes_it() -> None:
    lamps = [Item(str(k), "LAMP-200", 450, 200, 200, 2_100) for k in range(40)]
    assert [c["kind"] for c in _checked(lamps, CONTAINERS)["containers"]] == ["pallet"]
    boxed = _checked(lamps, BOXES)
    assert boxed["unpacked"] == [] and len(boxed["containers"]) > MAX_BOXES
    assert {c["kind"] for c in boxed["containers"]} == {"box"}
