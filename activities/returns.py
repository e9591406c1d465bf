"""Return activities: tell the read model and the customer about each step of a return, book
the warehouse's inspection in the stock ledger (resellable back on the shelf, damaged written
off), and refund through the payment provider with a credit note per refund.

Each is idempotent: a step's message is keyed by (order, return step), the inspection by the
return's lines, the refund by its idempotency key (the provider honours it too)."""

from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.errors import refusal
from activities.customer_messages import tell_customer
from activities.refunds import RefundOrder, refund_with_credit_note
from activities.ports import Notifier, PaymentProvider
from domain.enums import ErrorType, NotificationChannel
from domain.returns import (
    Disposition,
    InspectionBooked,
    InspectionRequest,
    RefundRequest,
    RefundResult,
    ReturnStatusChange,
    message_sequence,
    refund_amount,
)
from domain.return_messages import render_return_message
from storage.db import transaction
from storage.models import Customer, Order, Payment, Refund, Return, ReturnLine, StockLevel, StockMovement, utcnow
from storage.warehouse import RETURN, create_put_away
from storage.returns import (
    active_discount,
    delivered_quantities,
    goods_total,
    returned_quantities,
)


class ReturnActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], provider: PaymentProvider,
                 notifiers: Mapping[NotificationChannel, Notifier]) -> None:
        self._sessions = sessions
        self._provider = provider
        self._notifiers = notifiers

    @activity.defn
    async def publish_return_status(self, change: ReturnStatusChange) -> ReturnStatusChange:
        async with transaction(self._sessions) as session:
            ret = await session.get(Return, change.return_id)
            if ret is None:
                raise refusal(ErrorType.INVALID_REQUEST, f"return {change.return_id} does not exist")
            ret.status = change.status.value
            ret.status_reason = change.reason
            order = await session.get(Order, ret.order_id)
            assert order is not None
            customer = await session.get(Customer, order.customer_id)
            number, order_id = ret.number, ret.order_id
        published = change.model_copy(update={"order_id": order_id})
        if customer is None:
            return published
        subject, body = render_return_message(locale=customer.locale, order_id=order_id, return_number=number,
                                              status=change.status, detail=change.reason)
        await tell_customer(self._notifiers, customer, order_id=order_id,
                            sequence=message_sequence(number, change.status), subject=subject, body=body)
        return published

    @activity.defn
    async def book_return_inspection(self, req: InspectionRequest) -> InspectionBooked:
        """Resellable goods go back on the shelf (on hand +n), damaged ones are written off
        (a ledger entry, no stock): one stock movement per line, keyed by return and line."""
        wanted = {ln.line_no: ln.disposition for ln in req.inspection.lines}
        booked = InspectionBooked()
        async with transaction(self._sessions) as session:
            ret = await session.get(Return, req.return_id, with_for_update=True)
            if ret is None:
                raise refusal(ErrorType.INVALID_REQUEST, f"return {req.return_id} does not exist")
            lines = (await session.execute(select(ReturnLine).where(ReturnLine.return_id == ret.id)
                                           .order_by(ReturnLine.line_no))).scalars().all()
            for line in lines:
                disposition = Disposition(line.disposition) if line.disposition else wanted.get(line.line_no)
                if disposition is None:
                    raise refusal(ErrorType.INVALID_REQUEST, f"line {line.line_no} of return {ret.number} "
                                                             "has no inspection result")
                target = booked.restocked if disposition == Disposition.RESELLABLE else booked.written_off
                target[line.sku] = target.get(line.sku, 0) + line.quantity
                if line.disposition is not None:
                    continue  # booked by an earlier attempt
                line.disposition = disposition.value
                restock = disposition == Disposition.RESELLABLE
                if restock:
                    await session.execute(update(StockLevel).where(StockLevel.sku == line.sku)
                                          .values(on_hand=StockLevel.on_hand + line.quantity))
                    await create_put_away(session, line.sku, line.quantity, source=RETURN,
                                          reference=f"{ret.id}:line:{line.line_no}", now=utcnow())
                actor = req.inspection.actor
                by = actor.label() if actor else req.inspection.inspected_by
                session.add(StockMovement(
                    sku=line.sku, on_hand_delta=line.quantity if restock else 0,
                    reason="return restocked" if restock else "return written off", order_id=ret.order_id,
                    idempotency_key=f"return:{ret.id}:line:{line.line_no}",
                    note=f"return {ret.number}" + (f", inspected by {by}" if by else ""),
                    actor=actor.key_name if actor else None, actor_role=actor.role if actor else None))
            ret.inspected_by = req.inspection.inspected_by
        return booked

    @activity.defn
    async def refund_return(self, req: RefundRequest) -> RefundResult:
        """Refund the returned goods (and the shipping costs when the whole order has come
        back), never more than captured minus already refunded; record the credit note."""
        async with self._sessions() as session:
            done = (await session.execute(select(Refund).where(Refund.idempotency_key == req.idempotency_key)))\
                .scalar_one_or_none()
            if done is not None:
                return _result(done)
            ret = await session.get(Return, req.return_id)
            if ret is None:
                raise refusal(ErrorType.INVALID_REQUEST, f"return {req.return_id} does not exist")
            order = await session.get(Order, ret.order_id)
            assert order is not None
            payment = (await session.execute(select(Payment).where(Payment.order_id == order.id))).scalar_one_or_none()
            lines = (await session.execute(select(ReturnLine).where(ReturnLine.return_id == ret.id))).scalars().all()
            goods = goods_total(lines)
            shipping = Decimal("0.00")
            delivered = delivered_quantities(order)
            if await returned_quantities(session, order.id) == delivered:
                # A full return: the shipping costs the customer paid (what the order's total
                # holds above its lines) come back too.
                lines_total = sum((ln.line_total for ln in order.lines if not ln.dropped), start=Decimal("0.00"))
                paid_for_goods = lines_total - active_discount(order)
                shipping = max(Decimal("0.00"), order.total_amount - paid_for_goods)
        if payment is None:
            return RefundResult(amount=Decimal("0.00"), note="the order has no payment to refund")
        amount = refund_amount(goods, shipping, payment.captured, payment.refunded)
        if amount <= 0:
            return RefundResult(amount=Decimal("0.00"),
                                note="nothing is left of the captured payment to refund")
        row = await refund_with_credit_note(self._sessions, self._provider, RefundOrder(
            order_id=order.id, payment_id=payment.id, amount=amount, idempotency_key=req.idempotency_key,
            shipping_amount=min(shipping, max(Decimal("0.00"), amount - goods)), return_id=ret.id, actor=req.actor))
        return _result(row)


def _result(row: Refund) -> RefundResult:
    return RefundResult(amount=row.amount, shipping_amount=row.shipping_amount,
                        credit_note_number=row.credit_note_number)
