"""Read queries for the HTTP API: orders by id, key or reference, the read model of an order
(timeline, payment, shipments, feedback), order search with keyset pagination, products."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from storage.models import Customer, Order, OrderEvent, OrderFeedback, Payment, Product, Shipment, ShipmentPackage


async def get_order(session: AsyncSession, order_id: str, *, channel: str | None = None) -> Order | None:
    """The order with its customer and lines; None if it does not exist or (with ``channel``)
    belongs to another channel."""
    query = select(Order).where(Order.id == order_id)
    if channel is not None:
        query = query.where(Order.channel == channel)
    return (await session.execute(query)).unique().scalar_one_or_none()


async def find_order_by_idempotency_key(session: AsyncSession, channel: str, key: str) -> Order | None:
    return (await session.execute(
        select(Order).where(Order.channel == channel, Order.idempotency_key == key))).unique().scalar_one_or_none()


async def find_order_by_external_reference(session: AsyncSession, channel: str, reference: str) -> Order | None:
    return (await session.execute(
        select(Order).where(Order.channel == channel, Order.external_reference == reference)
    )).unique().scalar_one_or_none()


async def unstarted_order_ids(session: AsyncSession) -> list[str]:
    """Orders stored but whose workflow was never started (a crash between the two)."""
    return list((await session.execute(
        select(Order.id).where(Order.workflow_started.is_(False)).order_by(Order.created_at, Order.id)
    )).scalars())


async def mark_workflow_started(session: AsyncSession, order_id: str) -> None:
    await session.execute(update(Order).where(Order.id == order_id, Order.workflow_started.is_(False))
                          .values(workflow_started=True))


@dataclass
class OrderRecord:
    """What the read model knows about an order besides the order row itself."""

    events: list[OrderEvent]
    payment: Payment | None
    shipments: list[Shipment]
    feedback: OrderFeedback | None
    # shipment id -> its packages' tracking numbers, in package order (none recorded: one package)
    package_tracking_numbers: dict[str, list[str]] = field(default_factory=dict)


async def order_record(session: AsyncSession, order_id: str) -> OrderRecord:
    events = (await session.execute(
        select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.sequence))).scalars()
    payment = (await session.execute(select(Payment).where(Payment.order_id == order_id))).scalar_one_or_none()
    shipments = (await session.execute(
        select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.created_at, Shipment.id))).scalars()
    feedback = await session.get(OrderFeedback, order_id)
    packages: dict[str, list[str]] = {}
    for shipment_id, number in (await session.execute(
            select(ShipmentPackage.shipment_id, ShipmentPackage.tracking_number)
            .where(ShipmentPackage.order_id == order_id).order_by(ShipmentPackage.package_number))).all():
        packages.setdefault(shipment_id, []).append(number)
    return OrderRecord(events=list(events), payment=payment, shipments=list(shipments), feedback=feedback,
                       package_tracking_numbers=packages)


@dataclass
class OrderFilters:
    channel: str | None = None
    statuses: Sequence[str] = ()
    customer: str | None = None  # the channel's own customer id, or our opaque cus_ id
    created_from: datetime | None = None
    created_to: datetime | None = None
    needs_attention: bool | None = None


@dataclass
class OrderSummaryRow:
    order: Order
    customer_external_id: str


async def search_orders(
    session: AsyncSession, filters: OrderFilters, *, limit: int, after: tuple[datetime, str] | None = None
) -> list[OrderSummaryRow]:
    """Newest first, keyset-paginated on (created_at, id): ``after`` is the last row of the
    previous page. Returns at most ``limit`` rows."""
    query = (
        select(Order, Customer.external_id)
        .join(Customer, Customer.id == Order.customer_id)
        .options(raiseload(Order.lines), raiseload(Order.customer))
    )
    if filters.channel is not None:
        query = query.where(Order.channel == filters.channel)
    if filters.statuses:
        query = query.where(Order.status.in_(list(filters.statuses)))
    if filters.customer is not None:
        query = query.where(or_(Customer.external_id == filters.customer, Customer.id == filters.customer))
    if filters.created_from is not None:
        query = query.where(Order.created_at >= filters.created_from)
    if filters.created_to is not None:
        query = query.where(Order.created_at < filters.created_to)
    if filters.needs_attention is not None:
        query = query.where(Order.needs_attention.is_(filters.needs_attention))
    if after is not None:
        created_at, order_id = after
        query = query.where(or_(Order.created_at < created_at,
                                and_(Order.created_at == created_at, Order.id < order_id)))
    query = query.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)
    return [OrderSummaryRow(order=o, customer_external_id=ext) for o, ext in (await session.execute(query)).all()]


async def shipment_by_tracking_number(session: AsyncSession, tracking_number: str) -> Shipment | None:
    """The shipment with this tracking number: the shipment's own (its first package's) or
    that of any of its packages."""
    package = await session.get(ShipmentPackage, tracking_number)
    if package is not None:
        return await session.get(Shipment, package.shipment_id)
    return (await session.execute(
        select(Shipment).where(Shipment.tracking_number == tracking_number))).scalar_one_or_none()


async def list_products(
    session: AsyncSession, *, limit: int, after: str | None = None, active: bool | None = None
) -> list[Product]:
    """Products with their stock, by sku; ``after`` is the last sku of the previous page."""
    query = select(Product)
    if after is not None:
        query = query.where(Product.sku > after)
    if active is not None:
        query = query.where(Product.active.is_(active))
    return list((await session.execute(query.order_by(Product.sku).limit(limit))).scalars())
