"""No oversell, ever: 200 orders reserve the last 50 units at the same moment (separate
sessions released together by a barrier). CI runs this on SQLite and on PostgreSQL."""

import asyncio

from sqlalchemy import func, select
from temporalio.testing import ActivityEnvironment

from activities.inventory import InventoryActivities
from domain.models import StockRequest
from storage.db import transaction
from storage.models import Reservation, StockLevel, StockMovement
from tests.factories import place_order, seed

RACERS = 200
UNITS = 50


async def test_200_racing_orders_get_exactly_the_50_available_units(sessions) -> None:
    await seed(sessions)
    async with transaction(sessions) as s:
        level = await s.get(StockLevel, "LAMP-200")
        s.add(StockMovement(sku="LAMP-200", on_hand_delta=UNITS - level.on_hand, reason="stock count"))
        level.on_hand = UNITS
    order_ids = [await place_order(sessions, external_reference=f"RACE-{i}", lines=[{"sku": "LAMP-200", "quantity": 1}],
                                   backorder_policy="preorder") for i in range(RACERS)]
    inventory = InventoryActivities(sessions)
    env = ActivityEnvironment()
    barrier = asyncio.Barrier(RACERS)

    async def reserve(order_id: str):
        await barrier.wait()
        return await env.run(inventory.reserve_order_stock,
                             StockRequest(order_id=order_id, idempotency_key=f"order-{order_id}:reserve"))

    checks = await asyncio.gather(*(reserve(o) for o in order_ids))
    served = [c for c in checks if not c.short]
    short = [c for c in checks if c.short]
    assert (len(served), len(short)) == (UNITS, RACERS - UNITS)
    assert all(c.short[0].missing == 1 and c.short[0].policy == "preorder" for c in short)
    async with sessions() as s:
        level = await s.get(StockLevel, "LAMP-200")
        assert (level.on_hand, level.reserved) == (UNITS, UNITS)
        assert await s.scalar(select(func.sum(Reservation.quantity)).where(Reservation.sku == "LAMP-200")) == UNITS
        ledger = await s.scalar(select(func.sum(StockMovement.reserved_delta)).where(StockMovement.sku == "LAMP-200"))
        assert ledger == UNITS
