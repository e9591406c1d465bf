"""Returns in the database: registering a return (checked against the return window and what
is left to return, numbered from the gap-free "return" series, in one transaction) and reading
an order's returns with their refunds and credit notes."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.enums import OrderStatus
from domain.returns import (
    ReturnLineRequest,
    ReturnStatus,
    check_return_quantities,
    check_return_window,
    line_refund,
)
from storage.models import Order, OrderEvent, Refund, Return, ReturnLine
from storage.numbering import next_number

RETURN_SERIES = "return"
CREDIT_NOTE_SERIES = "credit_note"
# A return whose parcel never came gives its quantities back to what may still be returned.
INACTIVE_RETURN_STATUSES = (ReturnStatus.EXPIRED.value,)


def new_return_id() -> str:
    return f"ret_{uuid.uuid4().hex[:20]}"


async def delivered_at(session: AsyncSession, order_id: str) -> datetime | None:
    """When the order was delivered: its first DELIVERED status change in the timeline."""
    return await session.scalar(select(func.min(OrderEvent.occurred_at)).where(
        OrderEvent.order_id == order_id, OrderEvent.status == OrderStatus.DELIVERED.value))


async def returned_quantities(session: AsyncSession, order_id: str) -> dict[int, int]:
    """Per order line, how much is in returns that still count (not expired)."""
    rows = await session.execute(
        select(ReturnLine.line_no, func.sum(ReturnLine.quantity))
        .join(Return, Return.id == ReturnLine.return_id)
        .where(Return.order_id == order_id, Return.status.not_in(INACTIVE_RETURN_STATUSES))
        .group_by(ReturnLine.line_no))
    return {line_no: int(qty) for line_no, qty in rows.all()}


def active_discount(order: Order) -> Decimal:
    """The discount code's amount the customer did not pay (0 without one, or once given back)."""
    d = order.discount
    return d.amount if d is not None and d.released_at is None else Decimal("0.00")


def after_discount(amount: Decimal, discount: Decimal, lines_total: Decimal) -> Decimal:
    """A returned line refunds what was paid for it: the order's discount in proportion."""
    if discount <= 0 or lines_total <= 0:
        return amount
    return (amount * (lines_total - discount) / lines_total).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def delivered_quantities(order: Order) -> dict[int, int]:
    return {ln.line_no: ln.quantity for ln in order.lines if not ln.dropped}


async def register_return(
    session: AsyncSession, order_id: str, lines: list[ReturnLineRequest], reason: str, requested_by: str,
    *, now: datetime, window_days: int,
) -> Return:
    """Inside the caller's write transaction. Raises ``ReturnRefused`` (nothing written)."""
    # Lock the order row (PostgreSQL; SQLite's write transaction holds the database lock) so
    # two returns of the same line cannot both take the last unit.
    order = (await session.execute(select(Order).where(Order.id == order_id).with_for_update(of=Order))).unique().scalar_one()
    check_return_window(await delivered_at(session, order_id), now, window_days)
    check_return_quantities(lines, delivered_quantities(order), await returned_quantities(session, order_id))
    by_no = {ln.line_no: ln for ln in order.lines}
    discount = active_discount(order)
    lines_total = sum((ln.line_total for ln in order.lines if not ln.dropped), start=Decimal("0.00"))
    row = Return(id=new_return_id(), number=await next_number(session, RETURN_SERIES), order_id=order_id,
                 status=ReturnStatus.AWAITING_PARCEL.value, reason=reason, requested_by=requested_by)
    session.add(row)
    await session.flush()
    for req in sorted(lines, key=lambda ln: ln.line_no):
        ol = by_no[req.line_no]
        session.add(ReturnLine(return_id=row.id, line_no=ol.line_no, sku=ol.sku, quantity=req.quantity,
                               amount=after_discount(line_refund(ol.unit_price, req.quantity, ol.quantity,
                                                                 ol.line_total), discount, lines_total)))
    await session.flush()
    await session.refresh(row, ["lines"])
    return row


@dataclass
class ReturnRecord:
    ret: Return
    refunds: list[Refund] = field(default_factory=list)


async def get_return(session: AsyncSession, return_id: str) -> Return | None:
    return await session.get(Return, return_id)


async def return_records(session: AsyncSession, returns: Sequence[Return]) -> list[ReturnRecord]:
    ids = [r.id for r in returns]
    refunds = (await session.execute(
        select(Refund).where(Refund.return_id.in_(ids)).order_by(Refund.credit_note_number))).scalars().all() if ids else []
    return [ReturnRecord(ret=r, refunds=[f for f in refunds if f.return_id == r.id]) for r in returns]


async def order_returns(session: AsyncSession, order_id: str) -> list[ReturnRecord]:
    rows = (await session.execute(
        select(Return).where(Return.order_id == order_id).order_by(Return.number))).scalars().all()
    return await return_records(session, rows)


def goods_total(lines: Sequence[ReturnLine]) -> Decimal:
    return sum((ln.amount for ln in lines), start=Decimal("0.00"))
