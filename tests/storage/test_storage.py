"""Storage behaves the same on SQLite and PostgreSQL (CI runs this file on both)."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from domain.intake import NewOrder
from storage.db import transaction
from storage.idempotency import run_once
from storage.models import IdempotencyRecord, Order, OrderEvent, StockLevel
from storage.orders import UnknownSkus, add_order
from tests.factories import order_payload, place_order, seed


async def test_an_order_snapshots_prices_and_vat_per_line(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, lines=[{"sku": "MUG-001", "quantity": 3}, {"sku": "TEA-100", "quantity": 1}])
    async with sessions() as s:
        order = await s.get(Order, order_id)
        mug, tea = order.lines
        assert (mug.unit_price, mug.line_total, mug.vat_rate, mug.vat_amount) == (
            Decimal("12.95"), Decimal("38.85"), Decimal("21"), Decimal("6.74"))
        assert (tea.line_total, tea.vat_amount) == (Decimal("6.49"), Decimal("0.54"))
        assert order.total_amount == Decimal("45.34")
        assert order.vat_amount == Decimal("7.28")
        assert order.created_at.tzinfo is not None and order.created_at.utcoffset().total_seconds() == 0
        assert order.customer.email == "anna@example.nl"


async def test_unknown_skus_are_named_and_nothing_is_written(sessions) -> None:
    await seed(sessions)
    with pytest.raises(UnknownSkus) as err:
        async with transaction(sessions) as s:
            await add_order(s, "webshop", NewOrder.model_validate(order_payload(
                lines=[{"sku": "NOPE-1", "quantity": 1}, {"sku": "MUG-001", "quantity": 1}, {"sku": "NOPE-2", "quantity": 1}])))
    assert err.value.skus == ["NOPE-1", "NOPE-2"]
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Order)) == 0


async def test_one_order_per_channel_and_external_reference(sessions) -> None:
    await seed(sessions)
    await place_order(sessions)
    with pytest.raises(IntegrityError):
        await place_order(sessions)
    await place_order(sessions, channel="marketplace")  # another channel may reuse the reference


async def test_stock_can_never_go_negative_or_reserve_more_than_on_hand(sessions) -> None:
    await seed(sessions)
    for values in ({"reserved": 201}, {"on_hand": -1}):
        with pytest.raises(IntegrityError):
            async with transaction(sessions) as s:
                await s.execute(update(StockLevel).where(StockLevel.sku == "MUG-001").values(**values))


async def test_the_timeline_holds_one_row_per_sequence(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions)
    now = datetime.now(UTC)
    async with transaction(sessions) as s:
        s.add(OrderEvent(order_id=order_id, sequence=1, status="PAYMENT_AUTHORIZED", occurred_at=now))
    with pytest.raises(IntegrityError):
        async with transaction(sessions) as s:
            s.add(OrderEvent(order_id=order_id, sequence=1, status="PAYMENT_AUTHORIZED", occurred_at=now))


class Counted(BaseModel):
    value: int


async def test_run_once_acts_once_for_concurrent_twins(sessions) -> None:
    """Separate sessions released together by a barrier: one acts, all get its result."""
    await seed(sessions)
    barrier = asyncio.Barrier(8)
    acted = 0

    async def work(session) -> Counted:
        nonlocal acted
        acted += 1
        await session.execute(update(StockLevel).where(StockLevel.sku == "TEA-100").values(on_hand=StockLevel.on_hand + 1))
        return Counted(value=acted)

    async def attempt() -> Counted:
        await barrier.wait()
        return await run_once(sessions, "same-key", "test", Counted, work)

    results = await asyncio.gather(*(attempt() for _ in range(8)))
    assert {r.value for r in results} == {1}
    assert acted == 1
    async with sessions() as s:
        assert (await s.get(StockLevel, "TEA-100")).on_hand == 501
        assert await s.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1


async def test_run_once_rolls_back_the_claim_when_the_work_fails(sessions) -> None:
    async def failing(session) -> Counted:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await run_once(sessions, "k", "test", Counted, failing)

    async def ok(session) -> Counted:
        return Counted(value=7)

    assert (await run_once(sessions, "k", "test", Counted, ok)).value == 7


async def test_racing_reservations_take_exactly_the_available_units(sessions) -> None:
    """The conditional update used by reserve_stock: 40 racers for 25 units."""
    await seed(sessions)
    async with transaction(sessions) as s:
        await s.execute(update(StockLevel).where(StockLevel.sku == "LAMP-200").values(on_hand=25, reserved=0))
    barrier = asyncio.Barrier(40)

    async def reserve_one() -> bool:
        await barrier.wait()
        async with transaction(sessions) as s:
            result = await s.execute(update(StockLevel).where(
                StockLevel.sku == "LAMP-200", StockLevel.on_hand - StockLevel.reserved >= 1
            ).values(reserved=StockLevel.reserved + 1))
            return result.rowcount == 1

    won = await asyncio.gather(*(reserve_one() for _ in range(40)))
    assert sum(won) == 25
    async with sessions() as s:
        level = await s.get(StockLevel, "LAMP-200")
        assert (level.on_hand, level.reserved) == (25, 25)


async def test_numbers_are_gap_free_under_concurrency_and_rollback(sessions) -> None:
    from storage.numbering import current_number, next_number

    barrier = asyncio.Barrier(12)

    async def take(fail: bool) -> int | None:
        await barrier.wait()
        try:
            async with transaction(sessions) as s:
                number = await next_number(s, "invoice")
                if fail:
                    raise RuntimeError("document failed: its number goes back")
                return number
        except RuntimeError:
            return None

    taken = await asyncio.gather(*(take(fail=i % 4 == 0) for i in range(12)))
    numbers = sorted(n for n in taken if n is not None)
    assert numbers == list(range(1, 10))
    async with sessions() as s:
        assert await current_number(s, "invoice") == 9


def test_the_models_and_the_migrations_agree(database_url) -> None:
    """Alembic's own check: autogenerate finds nothing the migrations lack."""
    from alembic import command

    from storage.migrate import alembic_config

    command.check(alembic_config(database_url))
