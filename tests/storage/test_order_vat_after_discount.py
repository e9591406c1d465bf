"""An order's VAT after a discount code is the VAT its invoice shows, to the cent, for every
basket: at intake and after out-of-stock lines are dropped (property-based, over baskets of
mixed VAT rates with percentage and fixed codes)."""

import itertools
from decimal import Decimal

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from activities.inventory import InventoryActivities
from domain.invoicing import InvoiceLine, invoice_totals
from domain.stock import LinesRequest
from storage.db import transaction
from storage.models import DiscountCode, DiscountRedemption, Order, OrderLine, Product
from tests.factories import place_order

RATES = [Decimal("21"), Decimal("9"), Decimal("0")]
_numbers = itertools.count(1)

# A line: unit price (VAT included) in cents, quantity, VAT rate.
lines_strategy = st.lists(st.tuples(st.integers(1, 25_000), st.integers(1, 5), st.sampled_from(RATES)),
                          min_size=1, max_size=6)
# A code: a whole or fractional percentage, or a fixed amount (sometimes above the goods).
code_strategy = st.one_of(
    st.tuples(st.just("percentage"), st.decimals(min_value=Decimal("0.5"), max_value=Decimal("100"), places=1)),
    st.tuples(st.just("fixed"), st.integers(1, 60_000).map(lambda cents: Decimal(cents) / 100)),
)
# Shared across examples on purpose (each example uses its own SKUs, code and order).
EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


async def _place(sessions, basket: list[tuple[int, int, Decimal]], code: tuple[str, Decimal]) -> str:
    n = next(_numbers)
    async with transaction(sessions) as session:
        for i, (cents, _, rate) in enumerate(basket):
            session.add(Product(sku=f"PROP-{n}-{i}", name="thing", price=Decimal(cents) / 100, vat_rate=rate,
                                weight_grams=100, length_mm=10, width_mm=10, height_mm=10))
        session.add(DiscountCode(code=f"PROP{n}", kind=code[0], value=code[1], max_uses=1, uses=0, issued_by="test"))
    return await place_order(sessions, external_reference=f"WEB-PROP-{n}", discount_code=f"PROP{n}",
                             lines=[{"sku": f"PROP-{n}-{i}", "quantity": qty} for i, (_, qty, _) in enumerate(basket)])


async def _order_and_invoice(sessions, order_id: str) -> tuple[Order, Decimal, Decimal]:
    """The stored order, and the invoice's VAT and total, computed as the invoice activity does."""
    async with sessions() as session:
        order = await session.get(Order, order_id)
        lines = (await session.execute(select(OrderLine).where(OrderLine.order_id == order_id,
                                                               OrderLine.dropped.is_(False)))).scalars().all()
        redemption = await session.get(DiscountRedemption, order_id)
    totals = invoice_totals([InvoiceLine(sku=ln.sku, name=ln.name, quantity=ln.quantity, unit_price=ln.unit_price,
                                         vat_rate=ln.vat_rate, line_total=ln.line_total, vat_amount=ln.vat_amount)
                             for ln in lines], redemption.amount)
    return order, totals.vat, totals.gross


@EXAMPLES
@given(basket=lines_strategy, code=code_strategy)
async def test_the_orders_vat_after_a_discount_is_its_invoices(sessions, basket, code) -> None:
    order_id = await _place(sessions, basket, code)
    order, invoice_vat, invoice_total = await _order_and_invoice(sessions, order_id)
    assert (order.vat_amount, order.total_amount) == (invoice_vat, invoice_total)


@EXAMPLES
@given(basket=lines_strategy.filter(lambda lines: len(lines) >= 2), code=code_strategy, data=st.data())
async def test_the_orders_vat_after_dropping_lines_is_its_invoices(sessions, basket, code, data) -> None:
    order_id = await _place(sessions, basket, code)
    async with sessions() as session:
        skus = sorted((await session.execute(select(OrderLine.sku).where(OrderLine.order_id == order_id))).scalars())
    # Nothing is reserved, so every line of a named SKU is dropped: keep at least one line.
    dropped = data.draw(st.lists(st.sampled_from(skus), min_size=1, max_size=len(skus) - 1, unique=True))
    await ActivityEnvironment().run(InventoryActivities(sessions).drop_lines, LinesRequest(
        order_id=order_id, skus=dropped, idempotency_key=f"{order_id}:drop"))
    order, invoice_vat, invoice_total = await _order_and_invoice(sessions, order_id)
    assert (order.vat_amount, order.total_amount) == (invoice_vat, invoice_total)
