"""Shipping activities: choose a carrier by the customer's preference, book it (falling back
to the next suitable carrier when one refuses), and cancel a booking on cancellation."""

import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.errors import refusal
from activities.ports import CarrierGateway, CarrierRefused, Parcel
from domain.enums import ErrorType, ShipmentStatus, ShippingPreference
from domain.models import ShipmentInfo, ShipmentRequest
from domain.shipping import PACKAGING_WEIGHT_FACTOR, RateOption, rank_rates
from storage.models import Order, OrderLine, Product, Shipment
from storage.db import transaction


def _parcel(rows: list[tuple[int, Product]], country: str, postcode: str) -> Parcel:
    """One parcel holding every item: weight with packaging, items stacked on their largest face."""
    weight = sum(q * p.weight_grams for q, p in rows)
    dims = [sorted((p.length_mm, p.width_mm, p.height_mm), reverse=True) for _, p in rows]
    return Parcel(
        weight_grams=int((Decimal(weight) * PACKAGING_WEIGHT_FACTOR).to_integral_value()),
        length_mm=max((d[0] for d in dims), default=0),
        width_mm=max((d[1] for d in dims), default=0),
        height_mm=sum(q * d[2] for (q, _), d in zip(rows, dims, strict=True)),
        country=country,
        postcode=postcode,
    )


async def order_parcel(session: AsyncSession, order: Order) -> Parcel:
    """The order's lines (not those dropped as out of stock) as one parcel. (The warehouse's
    packing plan replaces this estimate where it has landed.)"""
    rows = (await session.execute(
        select(OrderLine.quantity, Product).join(Product, Product.sku == OrderLine.sku)
        .where(OrderLine.order_id == order.id, OrderLine.dropped.is_(False))
    )).all()
    return _parcel([(q, p) for q, p in rows], order.ship_country or "NL", order.ship_postcode or "")


async def basket_parcel(session: AsyncSession, quantities: dict[str, int], country: str, postcode: str) -> Parcel:
    """The parcel a basket of SKUs would make, estimated as ``order_parcel`` does (for quotes)."""
    products = {p.sku: p for p in (await session.execute(
        select(Product).where(Product.sku.in_(quantities)))).scalars()}
    return _parcel([(quantities[sku], products[sku]) for sku in sorted(products)], country, postcode)


def _info(row: Shipment) -> ShipmentInfo:
    return ShipmentInfo(shipment_id=row.id, carrier=row.carrier, service=row.service,
                        tracking_number=row.tracking_number, price=row.price, transit_days=row.transit_days,
                        choice_reason=row.choice_reason, status=ShipmentStatus(row.status))


class ShippingActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], carrier: CarrierGateway) -> None:
        self._sessions = sessions
        self._carrier = carrier

    @activity.defn
    async def book_shipment(self, req: ShipmentRequest) -> ShipmentInfo:
        async with self._sessions() as session:
            order = await session.get(Order, req.order_id)
            if order is None:
                raise refusal(ErrorType.ORDER_NOT_FOUND, f"order {req.order_id} does not exist")
            parcel = await order_parcel(session, order)
        rates = await self._carrier.rates(parcel)
        choice = rank_rates(
            [RateOption(**r.model_dump()) for r in rates], ShippingPreference(order.shipping_preference),
            order.preferred_carrier, order.preferred_service,
        )
        refusals = []
        for option in choice.ranked:
            try:
                booking = await self._carrier.book(
                    carrier=option.carrier, service=option.service, parcel=parcel,
                    idempotency_key=f"{req.idempotency_key}:{option.carrier}:{option.service}")
            except CarrierRefused as exc:
                refusals.append(str(exc))
                continue
            reason = choice.reason if option is choice.ranked[0] else (
                f"{'; '.join(refusals)}; booked {option.carrier}/{option.service} instead")
            return await self._record(order.id, option, booking.tracking_number, reason)
        raise refusal(ErrorType.CARRIER_REFUSED,
                      f"no carrier can take this order ({'; '.join(refusals) or choice.reason})")

    async def _record(self, order_id: str, option: RateOption, tracking_number: str, reason: str) -> ShipmentInfo:
        async with transaction(self._sessions) as session:
            row = (await session.execute(
                select(Shipment).where(Shipment.tracking_number == tracking_number))).scalar_one_or_none()
            if row is None:
                row = Shipment(id=f"shp_{uuid.uuid4().hex[:20]}", order_id=order_id, carrier=option.carrier,
                               service=option.service, tracking_number=tracking_number, status=ShipmentStatus.BOOKED,
                               price=option.price, transit_days=option.transit_days, choice_reason=reason[:300])
                session.add(row)
        return _info(row)

    @activity.defn
    async def cancel_shipment(self, req: ShipmentRequest) -> ShipmentInfo | None:
        """Cancel the order's booking with the carrier, if one was made."""
        async with self._sessions() as session:
            row = (await session.execute(
                select(Shipment).where(Shipment.order_id == req.order_id).order_by(Shipment.created_at.desc())
            )).scalars().first()
        if row is None:
            return None
        if row.status != ShipmentStatus.CANCELLED:
            await self._carrier.cancel(tracking_number=row.tracking_number, idempotency_key=req.idempotency_key)
            async with transaction(self._sessions) as session:
                row = await session.get(Shipment, row.id)
                assert row is not None
                row.status = ShipmentStatus.CANCELLED
        return _info(row)
