"""Dropping out-of-stock lines re-prices the order and keeps its discount code's effect."""

from decimal import Decimal

import pytest
from temporalio.testing import ActivityEnvironment

from activities.inventory import InventoryActivities
from domain.stock import LinesRequest
from storage.db import transaction
from storage.models import DiscountCode, DiscountRedemption, Order
from tests.factories import place_order, seed

LINES = [{"sku": "LAMP-200", "quantity": 2}, {"sku": "SOLDOUT-1", "quantity": 1}]  # 98.00 + 89.00


@pytest.mark.parametrize("kind, value, discount_after", [
    ("percentage", Decimal("10"), Decimal("9.80")),  # 10 % of the lamps that remain
    ("fixed", Decimal("15.00"), Decimal("15.00")),  # a fixed amount stays
])
async def test_dropping_a_line_keeps_the_discount(sessions, kind, value, discount_after) -> None:
    await seed(sessions)
    async with transaction(sessions) as s:
        s.add(DiscountCode(code="LOYAL", kind=kind, value=value, max_uses=5, uses=0, issued_by="ops"))
    order_id = await place_order(sessions, lines=LINES, discount_code="LOYAL")
    result = await ActivityEnvironment().run(InventoryActivities(sessions).drop_lines, LinesRequest(
        order_id=order_id, skus=["SOLDOUT-1"], idempotency_key="k"))
    async with sessions() as s:
        order = await s.get(Order, order_id)
        redemption = await s.get(DiscountRedemption, order_id)
    assert redemption.amount == discount_after
    assert order.total_amount == Decimal("98.00") - discount_after
    assert Decimal(result.new_total) == order.total_amount
    # The lamps' VAT (17.01, rounded per line) less the VAT inside the discount (all at 21 %),
    # as the invoice computes it: 9.80 holds 1.70, 15.00 holds 2.60.
    assert order.vat_amount == Decimal("17.01") - {Decimal("9.80"): Decimal("1.70"),
                                                   Decimal("15.00"): Decimal("2.60")}[discount_after]
