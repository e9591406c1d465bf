"""Stock activities: reserve an order's lines atomically, release them on cancel, and take
them off the shelf at handover. Every change writes a ledger entry (stock movement)."""

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.errors import refusal
from domain.enums import ErrorType
from domain.models import ReleaseResult, ReservationResult, ReservedLine, StockRequest
from storage.idempotency import run_once
from storage.models import Order, OrderLine, Reservation, StockLevel, StockMovement


class OutOfStockError(Exception):
    pass


async def _held(session: AsyncSession, order_id: str) -> list[Reservation]:
    rows = await session.execute(
        select(Reservation).where(Reservation.order_id == order_id, Reservation.status == "held").order_by(Reservation.sku)
    )
    return list(rows.scalars())


class InventoryActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

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
            released = []
            for r in await _held(session, req.order_id):
                await session.execute(
                    update(StockLevel).where(StockLevel.sku == r.sku).values(reserved=StockLevel.reserved - r.quantity)
                )
                r.status = "released"
                session.add(StockMovement(sku=r.sku, reserved_delta=-r.quantity, reason="release", order_id=req.order_id))
                released.append(ReservedLine(sku=r.sku, quantity=r.quantity))
            return ReleaseResult(released=released)

        return await run_once(self._sessions, req.idempotency_key, "inventory.release", ReleaseResult, work)

    @activity.defn
    async def ship_reserved_stock(self, req: StockRequest) -> ReleaseResult:
        """The goods left with the carrier: reserved units leave on-hand stock."""

        async def work(session: AsyncSession) -> ReleaseResult:
            shipped = []
            for r in await _held(session, req.order_id):
                await session.execute(
                    update(StockLevel).where(StockLevel.sku == r.sku).values(
                        reserved=StockLevel.reserved - r.quantity, on_hand=StockLevel.on_hand - r.quantity)
                )
                r.status = "shipped"
                session.add(StockMovement(sku=r.sku, reserved_delta=-r.quantity, on_hand_delta=-r.quantity,
                                          reason="ship", order_id=req.order_id))
                shipped.append(ReservedLine(sku=r.sku, quantity=r.quantity))
            return ReleaseResult(released=shipped)

        return await run_once(self._sessions, req.idempotency_key, "inventory.ship", ReleaseResult, work)
