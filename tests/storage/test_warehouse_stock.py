"""Bin corrections in the database (short picks and cycle counts): the ledger, the pick lines
that counted on missing units, reservations, and one open count per bin."""

import asyncio

import pytest
from sqlalchemy import func, select
from temporalio.testing import ActivityEnvironment

from activities.inventory import InventoryActivities
from activities.warehouse import WarehouseActivities
from domain.models import StockRequest
from domain.warehouse import WarehouseRequest
from storage.db import transaction
from storage.models import Alert, BinStock, CycleCount, PickList, Reservation, StockLevel, StockMovement, utcnow
from storage.warehouse import CYCLE_COUNT, StockConflict, correct_bin, request_cycle_count
from tests.factories import place_order, seed


async def _released(sessions, reference: str, lines: list[dict]) -> str:
    """An order with its stock reserved and its pick list made, as the workflow does it."""
    order_id = await place_order(sessions, external_reference=reference, lines=lines)
    env = ActivityEnvironment()
    await env.run(InventoryActivities(sessions).reserve_order_stock,
                  StockRequest(order_id=order_id, idempotency_key=f"{order_id}:reserve"))
    await env.run(WarehouseActivities(sessions).create_pick_list,
                  WarehouseRequest(order_id=order_id, idempotency_key=f"{order_id}:pick-list"))
    return order_id


async def _bin(session, sku: str, location: str) -> BinStock:
    return (await session.execute(select(BinStock).where(BinStock.sku == sku, BinStock.location_code == location)
                                  .with_for_update())).scalar_one()


async def test_a_count_below_what_open_pick_lists_need_moves_them_to_another_bin(sessions) -> None:
    await seed(sessions)
    first = await _released(sessions, "CB-1", [{"sku": "MUG-001", "quantity": 5}])
    second = await _released(sessions, "CB-2", [{"sku": "MUG-001", "quantity": 4}])
    async with transaction(sessions) as s:
        stock = await _bin(s, "MUG-001", "A-02-03-2-1")
        assert (stock.quantity, stock.allocated) == (120, 9)
        correction = await correct_bin(s, stock, 6, reason=CYCLE_COUNT, note="count", actor=None, now=utcnow(),
                                       idempotency_key="cycle_count:test")
    # 6 left for 9 promised: the older pick list keeps its 5, the newer one keeps 1 and gets 3 elsewhere.
    assert correction.delta == -114
    assert [(m.order_id, m.new_steps, m.short) for m in correction.lines] == [(second, [2], 0)]
    async with sessions() as s:
        stock = await _bin(s, "MUG-001", "A-02-03-2-1")
        other = await _bin(s, "MUG-001", "A-05-12-1-1")
        assert (stock.quantity, stock.allocated, other.allocated) == (6, 6, 3)
        level = await s.get(StockLevel, "MUG-001")
        assert (level.on_hand, level.reserved) == (86, 9)
        pl = (await s.execute(select(PickList).where(PickList.order_id == second))).scalar_one()
        assert [(ln.location_code, ln.quantity) for ln in pl.lines] == [("A-02-03-2-1", 1), ("A-05-12-1-1", 3)]
        assert pl.status == "open"
        [movement] = (await s.execute(select(StockMovement).where(StockMovement.reason == CYCLE_COUNT))).scalars().all()
        assert (movement.on_hand_delta, movement.idempotency_key) == (-114, "cycle_count:test")
        assert (await s.execute(select(PickList).where(PickList.order_id == first))).scalar_one().lines[0].quantity == 5


async def test_units_no_bin_has_are_short_their_reservation_released_and_alerted(sessions) -> None:
    await seed(sessions)
    order_id = await _released(sessions, "CB-3", [{"sku": "LAMP-200", "quantity": 3}])
    async with transaction(sessions) as s:
        correction = await correct_bin(s, await _bin(s, "LAMP-200", "A-05-04-2-1"), 1, reason=CYCLE_COUNT,
                                       note="count", actor=None, now=utcnow())
    assert [(m.order_id, m.short) for m in correction.lines] == [(order_id, 2)]
    async with sessions() as s:
        level = await s.get(StockLevel, "LAMP-200")
        assert (level.on_hand, level.reserved) == (1, 1)
        reservation = (await s.execute(select(Reservation).where(Reservation.order_id == order_id))).scalar_one()
        assert (reservation.quantity, reservation.status) == (1, "held")
        pl = (await s.execute(select(PickList).where(PickList.order_id == order_id))).scalar_one()
        assert (pl.lines[0].quantity, pl.lines[0].short, pl.status) == (3, 2, "open")  # 1 still to pick
        [alert] = (await s.execute(select(Alert))).scalars().all()
        assert (alert.kind, alert.order_id) == ("short_pick", order_id)


async def test_a_count_that_would_undercut_reservations_without_a_pick_list_is_refused(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, external_reference="CB-4", lines=[{"sku": "LAMP-200", "quantity": 20}])
    await ActivityEnvironment().run(InventoryActivities(sessions).reserve_order_stock,
                                    StockRequest(order_id=order_id, idempotency_key=f"{order_id}:reserve"))
    with pytest.raises(StockConflict, match="20 reserved"):
        async with transaction(sessions) as s:
            await correct_bin(s, await _bin(s, "LAMP-200", "A-05-04-2-1"), 3, reason=CYCLE_COUNT, note="count",
                              actor=None, now=utcnow())
    async with sessions() as s:
        assert (await s.get(StockLevel, "LAMP-200")).on_hand == 25  # nothing written
        assert (await _bin(s, "LAMP-200", "A-05-04-2-1")).quantity == 25


async def test_more_counted_than_recorded_adds_stock(sessions) -> None:
    await seed(sessions)
    async with transaction(sessions) as s:
        correction = await correct_bin(s, await _bin(s, "VASE-010", "A-03-06-1-1"), 43, reason=CYCLE_COUNT,
                                       note="count", actor=None, now=utcnow())
    assert (correction.delta, correction.lines) == (3, [])
    async with sessions() as s:
        assert (await s.get(StockLevel, "VASE-010")).on_hand == 43


async def test_two_short_picks_of_one_bin_at_once_ask_for_one_count(sessions) -> None:
    await seed(sessions)
    barrier = asyncio.Barrier(2)

    async def ask() -> int:
        async with sessions() as s:
            stock_id = (await _bin(s, "BOOK-042", "A-01-09-2-1")).id
        await barrier.wait()
        async with transaction(sessions) as s:
            stock = await s.get(BinStock, stock_id)
            return (await request_cycle_count(s, stock, reason="short_pick", pick_list_id=None, now=utcnow())).id

    ids = await asyncio.gather(ask(), ask())
    assert ids[0] == ids[1]
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(CycleCount)) == 1
