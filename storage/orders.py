"""Order repository: store a new order with its price snapshots, read orders back."""

import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.intake import NewOrder
from domain.invoicing import InvoiceLine, invoice_totals
from domain.pricing import line_total, vat_included
from storage.discounts import redeem
from storage.models import Customer, Order, OrderLine, Product


class UnknownSkus(Exception):
    def __init__(self, skus: Sequence[str]) -> None:
        super().__init__(", ".join(skus))
        self.skus = list(skus)


def as_invoice_lines(lines: Iterable[OrderLine]) -> list[InvoiceLine]:
    """The order lines as the invoice shows them: their price and VAT snapshots."""
    return [InvoiceLine(sku=ln.sku, name=ln.name, quantity=ln.quantity, unit_price=ln.unit_price,
                        vat_rate=ln.vat_rate, line_total=ln.line_total, vat_amount=ln.vat_amount) for ln in lines]


def vat_after_discount(lines: Iterable[OrderLine], discount: Decimal) -> Decimal:
    """The VAT the order holds after its discount, by the invoice's own rule (the discount split
    over the VAT rates, each rate's VAT less the VAT inside its share): the one rule, so the
    order's VAT and its legal invoice agree to the cent for every basket."""
    return invoice_totals(as_invoice_lines(lines), discount).vat


def new_order_id() -> str:
    return f"ord_{uuid.uuid4().hex[:20]}"


async def upsert_customer(session: AsyncSession, channel: str, order: NewOrder) -> Customer:
    c = order.customer
    # Locked: an erasure of this customer in progress is waited for, after which the erased
    # record no longer matches the channel's customer id and a new customer is made.
    customer = (await session.execute(
        select(Customer).where(Customer.channel == channel, Customer.external_id == c.id)
        .with_for_update())).scalar_one_or_none()
    if customer is None:
        customer = Customer(id=f"cus_{uuid.uuid4().hex[:20]}", channel=channel, external_id=c.id)
        session.add(customer)
    customer.name = c.name
    customer.email = str(c.email)
    customer.phone = c.phone
    customer.locale = c.locale
    customer.notification_channels = [ch.value for ch in c.notification_channels]
    return customer


async def add_order(
    session: AsyncSession,
    channel: str,
    order: NewOrder,
    *,
    order_id: str | None = None,
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
) -> Order:
    """Add the order (not yet committed) with prices snapshotted from the catalogue.

    Raises ``UnknownSkus`` naming every sku the catalogue does not sell.
    """
    skus = [line.sku for line in order.lines]
    products = {p.sku: p for p in (await session.execute(
        select(Product).where(Product.sku.in_(skus), Product.active.is_(True)))).scalars()}
    missing = [s for s in skus if s not in products]
    if missing:
        raise UnknownSkus(missing)
    customer = await upsert_customer(session, channel, order)
    await session.flush()
    lines = []
    for no, line in enumerate(order.lines, start=1):
        p = products[line.sku]
        total = line_total(p.price, line.quantity)
        lines.append(OrderLine(line_no=no, sku=p.sku, name=p.name, quantity=line.quantity, unit_price=p.price,
                               vat_rate=p.vat_rate, line_total=total, vat_amount=vat_included(total, p.vat_rate),
                               backorder_policy=line.backorder_policy))
    a = order.shipping_address
    row = Order(
        id=order_id or new_order_id(), channel=channel, external_reference=order.external_reference,
        idempotency_key=idempotency_key, request_fingerprint=fingerprint, customer_id=customer.id,
        status="RECEIVED", status_sequence=0,
        payment_method=order.payment.method, payment_token=order.payment.token,
        shipping_preference=order.shipping.preference, preferred_carrier=order.shipping.carrier,
        preferred_service=order.shipping.service, backorder_policy=order.backorder_policy, ship_partial=order.ship_partial,
        ship_country=a.country, ship_street=a.street, ship_house_number=a.house_number,
        ship_house_number_addition=a.house_number_addition, ship_postcode=a.postcode, ship_city=a.city,
        total_amount=sum((ln.line_total for ln in lines), start=Decimal("0.00")),
        vat_amount=sum((ln.vat_amount for ln in lines), start=Decimal("0.00")),
        lines=lines,
    )
    session.add(row)
    await session.flush()
    if order.discount_code is not None:
        # Redeemed in the order's own transaction: a refused code (DiscountRefused) stores nothing.
        discount = await redeem(session, code=order.discount_code, order_id=row.id, customer_id=customer.id,
                                subtotal=row.total_amount)
        row.vat_amount = vat_after_discount(lines, discount)
        row.total_amount -= discount
        await session.flush()
    return row
