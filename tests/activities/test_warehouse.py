"""The warehouse activities against the database: allocation to bins, put-away of stock no
bin holds (or still waiting at goods-in), one pick list and one packing plan per order however
often they are asked for."""

import asyncio

from sqlalchemy import func, select
from temporalio.testing import ActivityEnvironment

from activities.warehouse import BinOffer, WarehouseActivities, allocate
from domain.warehouse import WarehouseRequest
from storage.db import transaction
from storage.models import BinStock, PackingPlanRecord, PickList, StockLevel
from tests.factories import place_order, seed


def test_allocate_prefers_one_bin_else_fullest_first_and_first_expiry() -> None:
    from datetime import date

    offers = [BinOffer(1, 5, None, 3.0), BinOffer(2, 20, None, 9.0), BinOffer(3, 12, None, 1.0)]
    assert allocate(10, offers) == [(3, 10)]  # the nearest bin that holds it all
    assert allocate(30, offers) == [(2, 20), (3, 10)]  # fewest bins: fullest first
    dated = [BinOffer(1, 5, date(2027, 6, 1), 1.0), BinOffer(2, 5, date(2027, 3, 1), 9.0)]
    assert allocate(7, dated) == [(2, 5), (1, 2)]  # first expiry, first out
    assert allocate(50, offers[:1]) == [(1, 5)]  # short: what there is


async def _request(sessions, **order) -> WarehouseRequest:
    order_id = await place_order(sessions, **order)
    return WarehouseRequest(order_id=order_id, idempotency_key=f"order-{order_id}:pick-list")


async def test_pick_list_and_packing_plan_once_per_order(sessions) -> None:
    await seed(sessions)
    acts = WarehouseActivities(sessions)
    request = await _request(sessions, external_reference="WA-1",
                             lines=[{"sku": "TEA-100", "quantity": 3}, {"sku": "MUG-001", "quantity": 1}])
    env = ActivityEnvironment()
    first, second = await asyncio.gather(env.run(acts.create_pick_list, request), env.run(acts.create_pick_list, request))
    assert first.pick_list_id == second.pick_list_id
    assert await env.run(acts.create_pick_list, request) == first
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(PickList)) == 1
        tea = (await s.execute(select(BinStock).where(BinStock.sku == "TEA-100").order_by(BinStock.expiry_date))).scalars().all()
        assert [b.allocated for b in tea] == [3, 0]  # the lot that expires first
    plans = await asyncio.gather(env.run(acts.plan_packing, request), env.run(acts.plan_packing, request))
    assert plans[0] == plans[1] and plans[0].containers == ["BOX-S"]
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(PackingPlanRecord)) == 1


async def test_stock_no_bin_holds_is_put_away_before_allocation(sessions) -> None:
    await seed(sessions)
    async with transaction(sessions) as s:
        (await s.get(StockLevel, "LAMP-200")).on_hand += 10  # a goods receipt: in no bin yet
        (await s.get(StockLevel, "SOLDOUT-1")).on_hand += 3  # a product that has no bin at all
    acts = WarehouseActivities(sessions)
    env = ActivityEnvironment()
    summary = await env.run(acts.create_pick_list, await _request(
        sessions, external_reference="WA-2", lines=[{"sku": "LAMP-200", "quantity": 30}, {"sku": "SOLDOUT-1", "quantity": 3}]))
    assert summary.unallocated == []
    async with sessions() as s:
        lamps = (await s.execute(select(BinStock).where(BinStock.sku == "LAMP-200"))).scalars().all()
        # The lamp's bin is full (25 lamps of 18 l in a 336 l shelf bin): the 10 go to an empty bin.
        assert [(b.quantity, b.allocated) for b in lamps] == [(25, 25), (10, 5)]
        prints = (await s.execute(select(BinStock).where(BinStock.sku == "SOLDOUT-1"))).scalars().all()
        assert [(b.quantity, b.allocated) for b in prints] == [(3, 3)] and prints[0].location_code.startswith("A-")
