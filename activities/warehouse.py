"""Warehouse activities: allocate an order's lines to bins and plan the walk (the pick list),
and plan how the order is packed. The planners in ``activities.planning`` are pure and run in
a thread, so a long plan does not hold up other activities on this worker's event loop.
Both activities are idempotent: one pick list and one packing plan per order and shipment part
(unique keys)."""

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.errors import refusal
from activities.planning.layout import Layout, Point, demo_layout
from activities.planning.packing import Item, plan_packing as plan_packing_pure
from activities.planning.routing import plan_route, s_shape
from domain.enums import ErrorType
from domain.warehouse import BinOffer, PackingSummary, PickListSummary, WarehouseRequest, allocate
from storage.db import transaction
from storage.models import (
    BinStock,
    Order,
    PackingPlanRecord,
    PickList,
    PickListLine,
    Product,
    Reservation,
    PutAwayTask,
    StockLevel,
    WarehouseLocation,
)
from storage.warehouse import UNTRACKED, create_put_away, put_away, settle_wave, suggest_bin

HEAVY_UPRIGHT_G = 20_000  # heavy goods travel the way they stand


def pick_point(layout: Layout, location: WarehouseLocation) -> Point:
    return Point(location.x_mm / 1000, location.y_mm / 1000)


def _from_depot(location: WarehouseLocation) -> float:
    return (abs(location.x_mm) + location.y_mm) / 1000


async def _bins(session: AsyncSession, sku: str) -> list[BinStock]:
    rows = await session.execute(select(BinStock).where(BinStock.sku == sku).order_by(BinStock.id).with_for_update())
    return list(rows.scalars())


async def _put_away_for_pick_list(session: AsyncSession, sku: str, bins: list[BinStock], order_id: str) -> None:
    """The bins hold too little for a pick list: goods of the SKU waiting at goods-in (open
    put-away tasks, oldest first) are put away first, into the bin each task suggests, since
    the picker needs them now. Stock on hand that nothing accounts for (a stock adjustment,
    or data from before put-away tasks) is put away the same way. On hand = the bins + what
    live orders hold at the pack station + open put-away tasks."""
    now = datetime.now(UTC)
    tasks = (await session.execute(select(PutAwayTask).where(PutAwayTask.sku == sku, PutAwayTask.status == "open")
                                   .order_by(PutAwayTask.id).with_for_update())).scalars().all()
    for task in tasks:
        location = task.suggested_location or await suggest_bin(session, sku, task.quantity)
        if location is None:
            continue
        await put_away(session, task, location, by=f"pick list of order {order_id}", now=now)
        activity.logger.info("put away %s x %s into %s for a pick list", task.quantity, sku, location)
    level = await session.get(StockLevel, sku)
    in_bins = await session.scalar(select(func.coalesce(func.sum(BinStock.quantity), 0)).where(BinStock.sku == sku)) or 0
    at_pack_station = await session.scalar(
        select(func.coalesce(func.sum(PickListLine.picked), 0))
        .join(PickList, PickList.id == PickListLine.pick_list_id)
        .join(Reservation, (Reservation.order_id == PickList.order_id) & (Reservation.sku == PickListLine.sku))
        .where(PickListLine.sku == sku, Reservation.status == "held", PickList.status != "shipped")) or 0
    waiting = await session.scalar(select(func.coalesce(func.sum(PutAwayTask.quantity), 0)).where(
        PutAwayTask.sku == sku, PutAwayTask.status == "open")) or 0
    untracked = (level.on_hand if level else 0) - in_bins - at_pack_station - waiting
    if untracked <= 0:
        return
    task = await create_put_away(session, sku, untracked, source=UNTRACKED, reference=f"pick list of order {order_id}",
                                 now=now)
    if task is not None and task.suggested_location is not None:
        await put_away(session, task, task.suggested_location, by=f"pick list of order {order_id}", now=now)
        activity.logger.info("put away %s x %s into %s", untracked, sku, task.suggested_location)


def _metres(value: float) -> Decimal:
    return Decimal(str(round(value, 2))).quantize(Decimal("0.01"))


async def _order(session: AsyncSession, order_id: str) -> Order:
    order = await session.get(Order, order_id)
    if order is None:
        raise refusal(ErrorType.ORDER_NOT_FOUND, f"no order {order_id}")
    return order


def _summary(pick_list: PickList, unallocated: list[str]) -> PickListSummary:
    return PickListSummary(pick_list_id=pick_list.id, steps=len(pick_list.lines),
                           route_length_m=str(pick_list.route_length_m), s_shape_length_m=str(pick_list.s_shape_length_m),
                           unallocated=unallocated)


class WarehouseActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], layout: Layout | None = None) -> None:
        self._sessions = sessions
        self._layout = layout or demo_layout()

    @activity.defn
    async def create_pick_list(self, request: WarehouseRequest) -> PickListSummary:
        """The order's pick list: each line allocated to bins, the stops in walking order. For an
        order whose list finished short and whose missing units were pre-ordered and have
        arrived, the same list gets a second round: steps for the units it has not covered."""
        try:
            return await self._create_pick_list(request)
        except IntegrityError:
            # Made at the same time by a repeat of this activity (on PostgreSQL): that one stands.
            async with self._sessions() as session:
                existing = (await session.execute(select(PickList).where(
                    PickList.order_id == request.order_id, PickList.part == request.part))).scalar_one()
                return _summary(existing, [])

    async def _create_pick_list(self, request: WarehouseRequest) -> PickListSummary:
        async with transaction(self._sessions) as session:
            existing = (await session.execute(select(PickList).where(
                PickList.order_id == request.order_id, PickList.part == request.part).with_for_update())).scalar_one_or_none()
            order = await _order(session, request.order_id)
            units = _part_units(order, request)
            wanted = dict(units)
            if existing is not None:
                for pick in existing.lines:
                    wanted[pick.sku] = wanted.get(pick.sku, 0) - (pick.quantity - pick.short)
                wanted = {sku: n for sku, n in wanted.items() if n > 0}
                if not wanted or existing.status == "open":
                    return _summary(existing, [])
            locations = {loc.code: loc for loc in (await session.execute(select(WarehouseLocation))).scalars()}
            picks: list[tuple[BinStock, int]] = []
            unallocated: list[str] = []
            for sku, quantity in sorted(wanted.items()):
                bins = await _bins(session, sku)
                if sum(b.quantity - b.allocated for b in bins) < quantity:
                    await _put_away_for_pick_list(session, sku, bins, order.id)
                    bins = await _bins(session, sku)
                by_id = {b.id: b for b in bins}
                offers = [BinOffer(b.id, b.quantity - b.allocated, b.expiry_date, _from_depot(locations[b.location_code]))
                          for b in bins]
                taken = allocate(quantity, offers)
                if sum(n for _, n in taken) < quantity:
                    unallocated.append(sku)
                for bin_id, n in taken:
                    by_id[bin_id].allocated += n
                    picks.append((by_id[bin_id], n))
            codes = sorted({b.location_code for b, _ in picks})
            stops = [pick_point(self._layout, locations[c]) for c in codes]
            route, baseline = await asyncio.to_thread(lambda: (plan_route(self._layout, stops), s_shape(self._layout, stops)))
            rank = {codes[i]: step for step, i in enumerate(route.order)}
            picks.sort(key=lambda p: (rank[p[0].location_code], locations[p[0].location_code].shelf, p[0].sku))
            if existing is None:
                pick_list = PickList(id=f"pl_{uuid.uuid4().hex[:16]}", order_id=order.id, part=request.part,
                                     units=units if request.lines is not None else None, status="open",
                                     route_length_m=_metres(route.length), s_shape_length_m=_metres(baseline.length),
                                     route_exact=route.exact)
                session.add(pick_list)
                await session.flush()
                first = 1
            else:
                # The new round is walked on its own, from the depot: the route is this round's.
                pick_list, first = existing, max(ln.step for ln in existing.lines) + 1
                pick_list.status, pick_list.picked_at = "open", None
                pick_list.units = units if request.lines is not None else None
                pick_list.route_length_m, pick_list.s_shape_length_m = _metres(route.length), _metres(baseline.length)
                pick_list.route_exact = route.exact
            for step, (b, n) in enumerate(picks, start=first):
                session.add(PickListLine(pick_list_id=pick_list.id, step=step, bin_stock_id=b.id,
                                         location_code=b.location_code, sku=b.sku, quantity=n, picked=0))
            await session.flush()
            await session.refresh(pick_list, ["lines"])
            activity.logger.info("pick list created: %s stops, %.1f m (S-shape %.1f m)", len(stops), route.length,
                                 baseline.length)
            return _summary(pick_list, unallocated)

    @activity.defn
    async def plan_packing(self, request: WarehouseRequest) -> PackingSummary:
        """The order's packing plan: containers, and where each item stands in them. An order
        confirmed picked as a whole (``POST /orders/{id}/pick``) has its pick list closed here:
        the goods it still listed were taken from their bins. It plans with the active
        containers of the catalogue (``storage.containers``); an item none of them takes is
        listed as unpacked."""
        from storage.containers import active_catalogue

        await self._close_pick_list(request.order_id)
        key = (request.order_id, request.part)
        async with self._sessions() as session:
            existing = await session.get(PackingPlanRecord, key)
            if existing is not None:
                return _packing_summary(existing.plan)
            catalogue = await active_catalogue(session)
            order = await _order(session, request.order_id)
            units = _part_units(order, request)
            items: list[Item] = []
            # Item ids are "<line no>.<n>": the line says what an unpacked item is.
            for line in order.lines:
                if line.dropped or line.sku not in units:
                    continue
                p = await session.get(Product, line.sku)
                for n in range(units[line.sku]):
                    items.append(item_for(p, f"{line.line_no}.{n + 1}"))
        plan = (await asyncio.to_thread(plan_packing_pure, items, catalogue)).to_dict()
        try:
            async with transaction(self._sessions) as session:
                session.add(PackingPlanRecord(order_id=request.order_id, part=request.part, plan=plan,
                                              containers=len(plan["containers"])))
        except IntegrityError:
            async with self._sessions() as session:
                plan = (await session.get(PackingPlanRecord, key)).plan
        return _packing_summary(plan)


    async def _close_pick_list(self, order_id: str) -> None:
        async with transaction(self._sessions) as session:
            # Locked: two retries racing here would both take the goods off the shelf
            # (PostgreSQL re-checks the status after the wait; SQLite holds its write lock).
            pick_list = (await session.execute(select(PickList).where(
                PickList.order_id == order_id, PickList.status == "open").with_for_update())).scalar_one_or_none()
            if pick_list is None:
                return
            for line in pick_list.lines:
                left = line.quantity - line.picked - line.short
                if left > 0:
                    stock = await session.get(BinStock, line.bin_stock_id, with_for_update=True)
                    stock.quantity -= left
                    stock.allocated -= left
                    line.picked = line.quantity - line.short
                    line.picked_at = datetime.now(UTC)
            pick_list.status = "picked"
            pick_list.picked_at = datetime.now(UTC)
            await settle_wave(session, pick_list.wave_id, pick_list.picked_at)


def _part_units(order: Order, request: WarehouseRequest) -> dict[str, int]:
    """Units per SKU the pick list or packing plan covers: the part's, or the whole order's."""
    if request.lines is not None:
        return {line.sku: line.quantity for line in request.lines if line.quantity > 0}
    wanted: dict[str, int] = {}
    for line in order.lines:
        if not line.dropped:
            wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
    return wanted


def item_for(product: Product, item_id: str) -> Item:
    """Fragile goods are wrapped and stand upright; heavy goods travel the way they stand."""
    return Item(id=item_id, sku=product.sku, length=product.length_mm, width=product.width_mm,
                height=product.height_mm, weight_g=product.weight_grams, fragile=product.fragile,
                upright=product.fragile or product.weight_grams >= HEAVY_UPRIGHT_G)


def _packing_summary(plan: dict) -> PackingSummary:
    return PackingSummary(containers=[c["code"] for c in plan["containers"]], unpacked=plan.get("unpacked", []))
