"""Shipping activities: choose a carrier by the customer's preference, book it (falling back
to the next suitable carrier when one refuses), and cancel a booking on cancellation.

The packages come from the order's packing plan (``activities.warehouse.plan_packing``): one
package per container, with its real gross weight (contents and tare) and size. Every package
is booked with the same carrier in one booking, so a carrier is chosen only if it takes every
package; each package gets its own tracking number (``shipment_packages``). An order without
a packing plan (booked before plans existed, or its planner failed) ships as one package
estimated from its lines."""

import asyncio
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.errors import refusal
from activities.planning.packing import plan_packing
from activities.ports import CarrierGateway, CarrierRefused, Parcel
from activities.warehouse import item_for
from domain.enums import ErrorType, ShipmentStatus, ShippingPreference
from domain.models import PackedPackage, ReservedLine, ShipmentInfo, ShipmentRequest
from domain.shipping import PACKAGING_WEIGHT_FACTOR, RateOption, rank_rates
from storage.containers import active_catalogue
from storage.models import Order, OrderLine, PackingPlanRecord, Product, Shipment, ShipmentPackage
from storage.db import transaction

# A quote for a basket of more items than this is estimated as one parcel instead of planned
# box by box: the planner's time grows with the items, and a quote answers at checkout.
MAX_PLANNED_QUOTE_ITEMS = 500


@dataclass(frozen=True)
class PlannedPackage:
    """A package to book: the carrier's view (``parcel``) and the container it is."""

    parcel: Parcel
    container: str | None


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


def planned_packages(plan: dict[str, Any], loose: list[Product], country: str, postcode: str) -> list[PlannedPackage]:
    """The packages a packing plan makes: each container with its contents and tare (the
    container's inner size: the demo's containers have no outer size), then each item that fit
    no container (``loose``) as a parcel of its own."""
    packages = [PlannedPackage(Parcel(weight_grams=c["contents_weight_g"] + c["tare_g"], length_mm=c["inner"][0],
                                      width_mm=c["inner"][1], height_mm=c["inner"][2], country=country,
                                      postcode=postcode), c["code"])
                for c in plan["containers"]]
    packages += [PlannedPackage(_parcel([(1, p)], country, postcode), None) for p in loose]
    return packages


async def order_parcel(session: AsyncSession, order: Order, lines: list[ReservedLine] | None = None) -> Parcel:
    """The order's lines (not those dropped as out of stock), or a part's ``lines``, as one
    parcel: the estimate for an order without a packing plan."""
    rows = (await session.execute(
        select(OrderLine.quantity, Product).join(Product, Product.sku == OrderLine.sku)
        .where(OrderLine.order_id == order.id, OrderLine.dropped.is_(False))
    )).all()
    if lines is not None:
        units = {line.sku: line.quantity for line in lines}
        rows = [(units[p.sku], p) for _, p in rows if units.get(p.sku)]
    return _parcel([(q, p) for q, p in rows], order.ship_country or "NL", order.ship_postcode or "")


async def order_packages(session: AsyncSession, order: Order, part: int = 1,
                         lines: list[ReservedLine] | None = None) -> list[PlannedPackage]:
    """The packages of the order (or of one part of it) from its packing plan, or one
    estimated parcel without a plan."""
    country, postcode = order.ship_country or "NL", order.ship_postcode or ""
    record = await session.get(PackingPlanRecord, (order.id, part))
    if record is None or not (record.plan.get("containers") or record.plan.get("unpacked")):
        return [PlannedPackage(await order_parcel(session, order, lines), None)]
    lines = {line.line_no: line.sku for line in (await session.execute(
        select(OrderLine).where(OrderLine.order_id == order.id))).scalars()}
    loose = []
    for item_id in record.plan.get("unpacked", []):  # item ids are "<line no>.<n>"
        product = await session.get(Product, lines[int(item_id.split(".")[0])])
        assert product is not None
        loose.append(product)
    return planned_packages(record.plan, loose, country, postcode)


def packed_packages(packed: list[PackedPackage], order: Order) -> list[PlannedPackage]:
    """The packages the packer reported, as the carrier sees them."""
    country, postcode = order.ship_country or "NL", order.ship_postcode or ""
    return [PlannedPackage(Parcel(weight_grams=p.weight_grams, length_mm=p.length_mm, width_mm=p.width_mm,
                                  height_mm=p.height_mm, country=country, postcode=postcode), p.container)
            for p in packed]


async def basket_packages(session: AsyncSession, quantities: dict[str, int], country: str,
                          postcode: str) -> list[Parcel]:
    """The packages a basket of SKUs would make, planned as the order's would be (for quotes);
    a very large basket is estimated as one parcel (``MAX_PLANNED_QUOTE_ITEMS``)."""
    products = {p.sku: p for p in (await session.execute(
        select(Product).where(Product.sku.in_(quantities)))).scalars()}
    if sum(quantities[sku] for sku in products) > MAX_PLANNED_QUOTE_ITEMS:
        return [_parcel([(quantities[sku], products[sku]) for sku in sorted(products)], country, postcode)]
    items = [item_for(products[sku], f"{sku}.{n}") for sku in sorted(products) for n in range(quantities[sku])]
    # The containers an order's plan would use now, so the quote's packages are the order's.
    catalogue = await active_catalogue(session)
    plan = (await asyncio.to_thread(plan_packing, items, catalogue)).to_dict()
    by_item = {i.id: products[i.sku] for i in items}
    return [p.parcel for p in planned_packages(plan, [by_item[i] for i in plan["unpacked"]], country, postcode)]


async def shipment_packages(session: AsyncSession, shipment_id: str) -> list[ShipmentPackage]:
    return list((await session.execute(select(ShipmentPackage).where(ShipmentPackage.shipment_id == shipment_id)
                                       .order_by(ShipmentPackage.package_number))).scalars())


def _info(row: Shipment, packages: list[ShipmentPackage]) -> ShipmentInfo:
    return ShipmentInfo(shipment_id=row.id, carrier=row.carrier, service=row.service,
                        tracking_number=row.tracking_number, price=row.price, transit_days=row.transit_days,
                        choice_reason=row.choice_reason, status=ShipmentStatus(row.status), part=row.part,
                        # one package: empty, as ShipmentInfo documents
                        package_tracking_numbers=[p.tracking_number for p in packages] if len(packages) > 1 else [])


class ShippingActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], carrier: CarrierGateway) -> None:
        self._sessions = sessions
        self._carrier = carrier

    @activity.defn
    async def book_shipment(self, req: ShipmentRequest) -> ShipmentInfo:
        """Book every package of the order (as the packer reported packing them, else as
        planned) with the carrier the customer's preference ranks first among those that take
        every package; a refusal moves on to the next."""
        async with self._sessions() as session:
            order = await session.get(Order, req.order_id)
            if order is None:
                raise refusal(ErrorType.ORDER_NOT_FOUND, f"order {req.order_id} does not exist")
            packages = (packed_packages(req.packages, order) if req.packages
                        else await order_packages(session, order, req.part, req.lines))
        parcels = [p.parcel for p in packages]
        rates = await self._carrier.rates(parcels)
        choice = rank_rates(
            [RateOption(**r.model_dump()) for r in rates], ShippingPreference(order.shipping_preference),
            order.preferred_carrier, order.preferred_service,
        )
        refusals = []
        for option in choice.ranked:
            try:
                booking = await self._carrier.book(
                    carrier=option.carrier, service=option.service, parcels=parcels,
                    idempotency_key=f"{req.idempotency_key}:{option.carrier}:{option.service}")
            except CarrierRefused as exc:
                refusals.append(str(exc))
                continue
            reason = choice.reason if option is choice.ranked[0] else (
                f"{'; '.join(refusals)}; booked {option.carrier}/{option.service} instead")
            if len(packages) > 1:
                reason = f"{reason} ({len(packages)} packages)"
            numbers = booking.package_tracking_numbers or [booking.tracking_number]
            return await self._record(order.id, req.part, option, list(zip(numbers, packages, strict=True)), reason)
        what = f"{len(packages)} packages: " if len(packages) > 1 else ""
        raise refusal(ErrorType.CARRIER_REFUSED,
                      f"no carrier can take this order ({what}{'; '.join(refusals) or choice.reason})")

    async def _record(self, order_id: str, part: int, option: RateOption, booked: list[tuple[str, PlannedPackage]],
                      reason: str) -> ShipmentInfo:
        first = booked[0][0]
        try:
            async with transaction(self._sessions) as session:
                row = (await session.execute(
                    select(Shipment).where(Shipment.tracking_number == first))).scalar_one_or_none()
                if row is None:
                    row = Shipment(id=f"shp_{uuid.uuid4().hex[:20]}", order_id=order_id, part=part, carrier=option.carrier,
                                   service=option.service, tracking_number=first, status=ShipmentStatus.BOOKED,
                                   price=option.price, transit_days=option.transit_days, choice_reason=reason[:300])
                    session.add(row)
                    for n, (number, package) in enumerate(booked, start=1):
                        parcel = package.parcel
                        session.add(ShipmentPackage(
                            tracking_number=number, shipment_id=row.id, order_id=order_id, package_number=n,
                            package_count=len(booked), container=package.container,
                            weight_grams=parcel.weight_grams, length_mm=parcel.length_mm,
                            width_mm=parcel.width_mm, height_mm=parcel.height_mm, status=ShipmentStatus.BOOKED))
                    await session.flush()
                packages = await shipment_packages(session, row.id)
        except IntegrityError:
            # A concurrent twin of this activity recorded the same booking first (PostgreSQL).
            async with self._sessions() as session:
                row = (await session.execute(select(Shipment).where(Shipment.tracking_number == first))).scalar_one()
                packages = await shipment_packages(session, row.id)
        return _info(row, packages)

    @activity.defn
    async def cancel_shipment(self, req: ShipmentRequest) -> ShipmentInfo | None:
        """Cancel the booking of the order (or of the part being shipped) with the carrier, every
        package of it, if one was made. Shipments of parts that left are not touched."""
        async with self._sessions() as session:
            row = (await session.execute(
                select(Shipment).where(Shipment.order_id == req.order_id, Shipment.part == req.part)
                .order_by(Shipment.created_at.desc())
            )).scalars().first()
            packages = await shipment_packages(session, row.id) if row is not None else []
        if row is None:
            return None
        if row.status != ShipmentStatus.CANCELLED:
            await self._carrier.cancel(tracking_numbers=[p.tracking_number for p in packages] or [row.tracking_number],
                                       idempotency_key=req.idempotency_key)
            async with transaction(self._sessions) as session:
                row = await session.get(Shipment, row.id)
                assert row is not None
                row.status = ShipmentStatus.CANCELLED
                for package in await shipment_packages(session, row.id):
                    package.status = ShipmentStatus.CANCELLED
                packages = await shipment_packages(session, row.id)
        return _info(row, packages)
