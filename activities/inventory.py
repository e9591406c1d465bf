"""Stock activities: reserve an order's lines atomically (holding what is there and reporting
what is short), pre-order or drop the short lines, book goods receipts and hand received
stock to waiting pre-orders first come, first served, release on cancel, and take goods off
the shelf at handover. Every change writes a ledger entry (stock movement)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.errors import refusal
from activities.ports import Replenishment
from domain.accountability import StaffActionKind
from domain.pricing import line_total, vat_included
from domain.enums import BackorderPolicy, ErrorType, PurchaseOrderStatus
from domain.models import ReleaseResult, ReservationResult, ReservedLine, StockRequest
from domain.stock import (
    Allocation,
    DroppedLines,
    GoodsReceipt,
    LinesRequest,
    PreorderClaim as PreorderClaimInfo,
    PreorderResult,
    PurchaseOrderInfo,
    ReceiptResult,
    ShortLine,
    StockCheck,
)
from storage.discounts import rediscount
from storage.idempotency import run_once
from storage.orders import vat_after_discount
from storage.staff_actions import action_row
from storage.warehouse import GOODS_RECEIPT, create_put_away, put_back_after_cancellation
from storage.models import (
    Invoice,
    Order,
    OrderLine,
    PickList,
    PreorderClaim,
    Product,
    PurchaseOrder,
    Reservation,
    StockLevel,
    StockMovement,
)

OPEN_PO_STATUSES = (PurchaseOrderStatus.PLACED, PurchaseOrderStatus.CONFIRMED, PurchaseOrderStatus.PARTIALLY_RECEIVED)


class OutOfStockError(Exception):
    pass


async def _held(session: AsyncSession, order_id: str) -> list[Reservation]:
    rows = await session.execute(
        select(Reservation).where(Reservation.order_id == order_id, Reservation.status == "held").order_by(Reservation.sku)
    )
    return list(rows.scalars())


async def expected_date(session: AsyncSession, sku: str) -> date | None:
    """When missing units of a SKU are expected: the earliest open purchase order's date, or
    else today plus the supplier's lead time."""
    po_date = await session.scalar(select(func.min(PurchaseOrder.expected_date)).where(
        PurchaseOrder.sku == sku, PurchaseOrder.status.in_(OPEN_PO_STATUSES)))
    if po_date is not None:
        return po_date
    product = await session.get(Product, sku)
    return (datetime.now(UTC) + timedelta(days=product.lead_time_days)).date() if product else None


async def short_line(session: AsyncSession, order: Order, sku: str, missing: int) -> ShortLine:
    """``missing`` units of an order's SKU are not there: its backorder policy (the line's, else
    the order's) and when more is expected."""
    line_policy = next((ln.backorder_policy for ln in order.lines if ln.sku == sku and not ln.dropped), None)
    return ShortLine(sku=sku, missing=missing, policy=BackorderPolicy(line_policy or order.backorder_policy),
                     expected_date=await expected_date(session, sku))


def purchase_order_info(po: PurchaseOrder) -> PurchaseOrderInfo:
    return PurchaseOrderInfo(id=po.id, sku=po.sku, supplier=po.supplier, quantity=po.quantity, received=po.received,
                             status=PurchaseOrderStatus(po.status), expected_date=po.expected_date)


async def _add_to_reservation(session: AsyncSession, order_id: str, sku: str, quantity: int) -> None:
    """Add units to the order's held reservation of the SKU (one held row per order and SKU;
    rows of units that shipped or were released stay as they are)."""
    existing = (await session.execute(select(Reservation).where(
        Reservation.order_id == order_id, Reservation.sku == sku, Reservation.status == "held"))).scalar_one_or_none()
    if existing is None:
        session.add(Reservation(order_id=order_id, sku=sku, quantity=quantity, status="held"))
    else:
        existing.quantity += quantity


async def _reserve_up_to(session: AsyncSession, sku: str, quantity: int) -> int:
    """Reserve as many of ``quantity`` units as are available; returns how many. Locks the
    stock row first (PostgreSQL row lock; SQLite holds the write lock already)."""
    level = (await session.execute(select(StockLevel).where(StockLevel.sku == sku).with_for_update())).scalar_one_or_none()
    if level is None:
        return 0
    take = max(0, min(quantity, level.on_hand - level.reserved))
    if take:
        await session.execute(update(StockLevel).where(StockLevel.sku == sku).values(reserved=StockLevel.reserved + take))
    return take


class InventoryActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], replenishment: Replenishment | None = None) -> None:
        self._sessions = sessions
        self._replenishment = replenishment

    async def _tell_replenishment(self, skus: list[str], reason: str, order_id: str | None) -> None:
        if self._replenishment is None:
            return
        for sku in skus:
            await self._replenishment.demand_changed(sku, reason, order_id)

    @activity.defn
    async def reserve_order_stock(self, req: StockRequest) -> StockCheck:
        """Hold every unit that is there; report each short line with its backorder policy."""

        async def work(session: AsyncSession) -> StockCheck:
            order = await session.get(Order, req.order_id)
            if order is None:
                raise refusal(ErrorType.ORDER_NOT_FOUND, f"order {req.order_id} does not exist")
            lines = (await session.execute(select(OrderLine).where(
                OrderLine.order_id == req.order_id, OrderLine.dropped.is_(False)).order_by(OrderLine.sku))).scalars().all()
            reserved, short = [], []
            for line in lines:
                took = await _reserve_up_to(session, line.sku, line.quantity)
                if took:
                    await _add_to_reservation(session, req.order_id, line.sku, took)
                    session.add(StockMovement(sku=line.sku, reserved_delta=took, reason="reserve", order_id=req.order_id))
                    reserved.append(ReservedLine(sku=line.sku, quantity=took))
                if took < line.quantity:
                    short.append(await short_line(session, order, line.sku, line.quantity - took))
            return StockCheck(reserved=reserved, short=short)

        check = await run_once(self._sessions, req.idempotency_key, "inventory.reserve-order", StockCheck, work)
        await self._tell_replenishment(await self._below_reorder_point([r.sku for r in check.reserved]),
                                       "below reorder point", req.order_id)
        return check

    async def _below_reorder_point(self, skus: list[str]) -> list[str]:
        if not skus:
            return []
        async with self._sessions() as session:
            rows = (await session.execute(select(StockLevel.sku).join(Product, Product.sku == StockLevel.sku).where(
                StockLevel.sku.in_(skus), Product.reorder_point > 0,
                StockLevel.on_hand - StockLevel.reserved < Product.reorder_point))).scalars().all()
        return list(rows)

    @activity.defn
    async def place_preorders(self, req: LinesRequest) -> PreorderResult:
        """Put the order in the first-come, first-served queue of each short SKU, and tell
        replenishment at once so the supplier is asked for the goods."""

        async def work(session: AsyncSession) -> PreorderResult:
            claims = []
            for sku in sorted(req.skus):
                ordered = await session.scalar(select(func.sum(OrderLine.quantity)).where(
                    OrderLine.order_id == req.order_id, OrderLine.sku == sku, OrderLine.dropped.is_(False))) or 0
                # Held, or gone in an earlier shipment of an order shipped in parts.
                held = await session.scalar(select(func.sum(Reservation.quantity)).where(
                    Reservation.order_id == req.order_id, Reservation.sku == sku,
                    Reservation.status.in_(("held", "shipped")))) or 0
                missing = ordered - held
                if missing <= 0:
                    continue
                claim = (await session.execute(select(PreorderClaim).where(
                    PreorderClaim.order_id == req.order_id, PreorderClaim.sku == sku))).scalar_one_or_none()
                if claim is None:
                    session.add(PreorderClaim(order_id=req.order_id, sku=sku, quantity=missing, allocated=0,
                                              status="waiting"))
                else:
                    # Units short at the pick after an earlier pre-order of the SKU was served: the
                    # order's claim waits again, for the missing units, in its old place.
                    claim.quantity, claim.allocated, claim.status = missing, 0, "waiting"
                claims.append(PreorderClaimInfo(sku=sku, quantity=missing, expected_date=await expected_date(session, sku)))
            return PreorderResult(claims=claims)

        result = await run_once(self._sessions, req.idempotency_key, "inventory.preorder", PreorderResult, work)
        await self._tell_replenishment([c.sku for c in result.claims], "pre-order", req.order_id)
        return result

    @activity.defn
    async def held_stock(self, req: StockRequest) -> ReservationResult:
        """What the order holds in stock now (its held reservations): for an order shipped in
        parts, once the first part left, the units of the next. A read: no key needed."""
        async with self._sessions() as session:
            return ReservationResult(lines=[ReservedLine(sku=r.sku, quantity=r.quantity)
                                            for r in await _held(session, req.order_id) if r.quantity > 0])

    @activity.defn
    async def drop_lines(self, req: LinesRequest) -> DroppedLines:
        """Cancel the missing units of short lines (backorder policy ``cancel``), or the rest of
        an order shipped in parts: each line of those SKUs keeps the units the order holds
        (they ship) or that shipped already, a line left with none is dropped, and the order's
        total is recomputed."""

        async def work(session: AsyncSession) -> DroppedLines:
            order = await session.get(Order, req.order_id)
            assert order is not None
            held: dict[str, int] = {}
            for sku, quantity in (await session.execute(select(Reservation.sku, Reservation.quantity).where(
                    Reservation.order_id == req.order_id, Reservation.status.in_(("held", "shipped"))))).all():
                held[sku] = held.get(sku, 0) + quantity
            # Units still awaited on a pre-order of another shipment stay on the order too.
            for sku, quantity, allocated in (await session.execute(
                    select(PreorderClaim.sku, PreorderClaim.quantity, PreorderClaim.allocated).where(
                        PreorderClaim.order_id == req.order_id, PreorderClaim.status == "waiting"))).all():
                held[sku] = held.get(sku, 0) + quantity - allocated
            dropped, shortened = [], {}
            for line in sorted(order.lines, key=lambda ln: ln.line_no):
                if line.sku not in req.skus or line.dropped:
                    continue
                keep = min(line.quantity, held.get(line.sku, 0))
                held[line.sku] = held.get(line.sku, 0) - keep
                if keep == 0:
                    line.dropped = True
                    dropped.append(line.sku)
                elif keep < line.quantity:
                    line.quantity = keep
                    line.line_total = line_total(line.unit_price, keep)
                    line.vat_amount = vat_included(line.line_total, line.vat_rate)
                    shortened[line.sku] = shortened.get(line.sku, 0) + keep
            kept = [ln for ln in order.lines if not ln.dropped]
            subtotal = sum((ln.line_total for ln in kept), start=Decimal("0.00"))
            invoiced = (await session.execute(select(func.sum(Invoice.total_amount), func.sum(Invoice.vat_amount)).where(
                Invoice.order_id == order.id, Invoice.part <= req.invoiced_parts))).one() if req.invoiced_parts else None
            if invoiced is not None and invoiced[0] is not None:
                order.total_amount, order.vat_amount = invoiced
            else:
                discount = await rediscount(session, order.id, subtotal)
                order.total_amount = subtotal - discount
                order.vat_amount = vat_after_discount(kept, discount)
            return DroppedLines(dropped=sorted(set(dropped)), remaining_lines=len(kept), new_total=str(order.total_amount),
                                shortened=shortened)

        return await run_once(self._sessions, req.idempotency_key, "inventory.drop-lines", DroppedLines, work)

    @activity.defn
    async def book_goods_receipt(self, receipt: GoodsReceipt) -> ReceiptResult:
        """Book received goods once per receipt id, then give them to waiting pre-orders in
        order of arrival; the rest becomes available."""

        async def work(session: AsyncSession) -> ReceiptResult:
            po = (await session.execute(select(PurchaseOrder).where(
                PurchaseOrder.id == receipt.purchase_order_id).with_for_update())).scalar_one_or_none()
            if po is None:
                raise refusal(ErrorType.INVALID_REQUEST, f"purchase order {receipt.purchase_order_id} does not exist")
            open_quantity = po.quantity - po.received
            if receipt.quantity > open_quantity:
                raise refusal(ErrorType.INVALID_REQUEST,
                              f"purchase order {po.id} has {open_quantity} units still to come; {receipt.quantity} cannot be received")
            po.received += receipt.quantity
            po.status = PurchaseOrderStatus.RECEIVED if po.received == po.quantity else PurchaseOrderStatus.PARTIALLY_RECEIVED
            await session.execute(update(StockLevel).where(StockLevel.sku == po.sku)
                                  .values(on_hand=StockLevel.on_hand + receipt.quantity))
            actor = receipt.actor
            by = actor.label() if actor else receipt.received_by
            session.add(StockMovement(sku=po.sku, on_hand_delta=receipt.quantity, reason="goods receipt",
                                      purchase_order_id=po.id, idempotency_key=f"receipt:{receipt.receipt_id}",
                                      note=f"received by {by}" if by else None,
                                      actor=actor.key_name if actor else None,
                                      actor_role=actor.role if actor else None))
            if actor is not None:
                # In the booking's own transaction: a repeated receipt id is neither booked
                # nor logged twice.
                session.add(action_row(StaffActionKind.GOODS_RECEIPT, actor, purchase_order_id=po.id, sku=po.sku,
                                       detail=f"{receipt.quantity} x {po.sku}, receipt {receipt.receipt_id}"))
            # The goods wait at goods-in for staff to put them into a bin.
            await create_put_away(session, po.sku, receipt.quantity, source=GOODS_RECEIPT,
                                  reference=receipt.receipt_id, now=datetime.now(UTC))
            await session.flush()
            allocations = []
            claims = (await session.execute(select(PreorderClaim).where(
                PreorderClaim.sku == po.sku, PreorderClaim.status == "waiting").order_by(PreorderClaim.id))).scalars().all()
            for claim in claims:
                took = await _reserve_up_to(session, po.sku, claim.quantity - claim.allocated)
                if not took:
                    break
                claim.allocated += took
                if claim.allocated == claim.quantity:
                    claim.status = "allocated"
                await _add_to_reservation(session, claim.order_id, po.sku, took)
                session.add(StockMovement(sku=po.sku, reserved_delta=took, reason="allocate pre-order",
                                          order_id=claim.order_id, purchase_order_id=po.id))
                allocations.append(Allocation(order_id=claim.order_id, sku=po.sku, quantity=took,
                                              complete=claim.status == "allocated", claim_allocated=claim.allocated))
            return ReceiptResult(purchase_order=purchase_order_info(po), allocations=allocations)

        return await run_once(self._sessions, f"receipt:{receipt.receipt_id}", "inventory.receipt", ReceiptResult, work)

    @activity.defn
    async def reserve_stock(self, req: StockRequest) -> ReservationResult:
        async def work(session: AsyncSession) -> ReservationResult:
            if await session.get(Order, req.order_id) is None:
                raise refusal(ErrorType.ORDER_NOT_FOUND, f"order {req.order_id} does not exist")
            lines = (await session.execute(
                select(OrderLine.sku, OrderLine.quantity).where(OrderLine.order_id == req.order_id)
            )).all()
            wanted: dict[str, int] = {}
            for sku, quantity in lines:
                wanted[sku] = wanted.get(sku, 0) + quantity
            short = []
            for sku, quantity in sorted(wanted.items()):
                # A conditional update: the database, not a read in Python, decides whether
                # the units are still there, so racing orders can never oversell.
                result = await session.execute(
                    update(StockLevel)
                    .where(StockLevel.sku == sku, StockLevel.on_hand - StockLevel.reserved >= quantity)
                    .values(reserved=StockLevel.reserved + quantity)
                )
                if result.rowcount != 1:
                    short.append(sku)
                    continue
                session.add(Reservation(order_id=req.order_id, sku=sku, quantity=quantity, status="held"))
                session.add(StockMovement(sku=sku, reserved_delta=quantity, reason="reserve", order_id=req.order_id))
            if short:
                raise OutOfStockError(", ".join(short))
            return ReservationResult(lines=[ReservedLine(sku=s, quantity=q) for s, q in sorted(wanted.items())])

        try:
            return await run_once(self._sessions, req.idempotency_key, "inventory.reserve", ReservationResult, work)
        except OutOfStockError as exc:
            raise refusal(ErrorType.OUT_OF_STOCK, f"not enough stock for {exc}") from exc

    @activity.defn
    async def release_stock(self, req: StockRequest) -> ReleaseResult:
        async def work(session: AsyncSession) -> ReleaseResult:
            # A cancelled pre-order leaves the queue; units already given to it go back.
            await session.execute(update(PreorderClaim).where(
                PreorderClaim.order_id == req.order_id, PreorderClaim.status == "waiting").values(status="cancelled"))
            released = []
            for r in await _held(session, req.order_id):
                await session.execute(
                    update(StockLevel).where(StockLevel.sku == r.sku).values(reserved=StockLevel.reserved - r.quantity)
                )
                r.status = "released"
                session.add(StockMovement(sku=r.sku, reserved_delta=-r.quantity, reason="release", order_id=req.order_id))
                released.append(ReservedLine(sku=r.sku, quantity=r.quantity))
            # Bins promised to the order are freed; goods already picked go back to a bin.
            await put_back_after_cancellation(session, req.order_id, datetime.now(UTC))
            return ReleaseResult(released=released)

        return await run_once(self._sessions, req.idempotency_key, "inventory.release", ReleaseResult, work)

    @activity.defn
    async def ship_reserved_stock(self, req: StockRequest) -> ReleaseResult:
        """The goods left with the carrier: reserved units leave on-hand stock, and the pick list
        they were picked on is done with. An order shipped in parts names the part's units; the
        rest stays held for the next part."""

        async def work(session: AsyncSession) -> ReleaseResult:
            shipped = []
            leaving = {line.sku: line.quantity for line in req.lines} if req.lines is not None else None
            for r in await _held(session, req.order_id):
                quantity = r.quantity if leaving is None else min(r.quantity, leaving.get(r.sku, 0))
                if quantity <= 0:
                    continue
                await session.execute(
                    update(StockLevel).where(StockLevel.sku == r.sku).values(
                        reserved=StockLevel.reserved - quantity, on_hand=StockLevel.on_hand - quantity)
                )
                if quantity == r.quantity:
                    r.status = "shipped"
                else:
                    r.quantity -= quantity
                    session.add(Reservation(order_id=req.order_id, sku=r.sku, quantity=quantity, status="shipped"))
                session.add(StockMovement(sku=r.sku, reserved_delta=-quantity, on_hand_delta=-quantity,
                                          reason="ship", order_id=req.order_id))
                shipped.append(ReservedLine(sku=r.sku, quantity=quantity))
            await session.execute(update(PickList).where(
                PickList.order_id == req.order_id, PickList.status.in_(("picked", "short"))).values(status="shipped"))
            return ReleaseResult(released=shipped)

        return await run_once(self._sessions, req.idempotency_key, "inventory.ship", ReleaseResult, work)
