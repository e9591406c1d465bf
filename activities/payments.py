"""Payment activities: authorize at confirmation, capture at handover, void or refund on cancel.

A no-charge order (a reshipment customer service sends, ``PaymentMethod.NO_CHARGE``) never
reaches the provider: authorizing it records a payment of EUR 0.00 as captured, so capturing,
voiding and settling it find nothing to do, and nothing can be refunded from it."""

from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import raiseload
from temporalio import activity

from activities.errors import refusal
from activities.ports import PaymentDeclined, PaymentProvider, ProviderPayment
from domain.enums import ErrorType, PaymentMethod, PaymentStatus
from domain.models import PaymentRequest, PaymentResult
from storage.models import Invoice, Order, Payment
from storage.db import transaction

# Payments need the order's own columns (total, method, token), never its customer, lines or
# discount: loading those would cost three statements instead of one.
ORDER_ONLY = (raiseload("*"),)


class PaymentActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], provider: PaymentProvider) -> None:
        self._sessions = sessions
        self._provider = provider

    async def _record(self, order_id: str, p: ProviderPayment, *, replaces_authorization: bool = False) -> PaymentResult:
        for attempt in (1, 2):
            try:
                async with transaction(self._sessions) as session:
                    row = (await session.execute(select(Payment).where(Payment.order_id == order_id))).scalar_one_or_none()
                    if row is None:
                        row = Payment(id=p.payment_id, order_id=order_id, method=p.method, status=p.status,
                                      amount=p.authorized)
                        session.add(row)
                    elif replaces_authorization:
                        row.id = p.payment_id
                        row.amount = p.authorized
                    row.status = p.status
                    row.captured = p.captured
                    row.refunded = p.refunded
                break
            except IntegrityError:
                # Two attempts of one activity recorded the same provider payment at once (both
                # read no row): the second finds the first's row and brings it up to date.
                if attempt == 2:
                    raise
        return PaymentResult(payment_id=p.payment_id, method=p.method, status=p.status, amount=p.authorized,
                             captured=p.captured, refunded=p.refunded)

    async def _payment(self, order_id: str) -> Payment | None:
        async with self._sessions() as session:
            return (await session.execute(select(Payment).where(Payment.order_id == order_id))).scalar_one_or_none()

    @activity.defn
    async def authorize_payment(self, req: PaymentRequest) -> PaymentResult:
        return await self._authorize(req)

    async def _authorize(self, req: PaymentRequest, *, replaces_authorization: bool = False) -> PaymentResult:
        async with self._sessions() as session:
            order = await session.get(Order, req.order_id, options=ORDER_ONLY)
        if order is None:
            raise refusal(ErrorType.ORDER_NOT_FOUND, f"order {req.order_id} does not exist")
        if order.payment_method == PaymentMethod.NO_CHARGE:
            return await self._record_no_charge(order)
        try:
            p = await self._provider.authorize(
                reference=order.id, method=PaymentMethod(order.payment_method), token=req.token or order.payment_token,
                amount=order.total_amount, idempotency_key=req.idempotency_key)
        except PaymentDeclined as exc:
            raise refusal(ErrorType.PAYMENT_DECLINED, str(exc)) from exc
        if req.token and req.token != order.payment_token:
            async with transaction(self._sessions) as session:  # the card that is now authorized
                await session.execute(update(Order).where(Order.id == order.id).values(payment_token=req.token))
        return await self._record(order.id, p, replaces_authorization=replaces_authorization)

    async def _record_no_charge(self, order: Order) -> PaymentResult:
        if order.total_amount != 0:
            # Only a reshipment is made with this method, always at EUR 0.00: anything else is a bug.
            raise refusal(ErrorType.INVALID_REQUEST, f"order {order.id} is a no-charge order but totals "
                                                     f"EUR {order.total_amount}; it must total EUR 0.00")
        zero = Decimal("0.00")
        return await self._record(order.id, ProviderPayment(
            payment_id=f"nocharge_{order.id}", method=PaymentMethod.NO_CHARGE, status=PaymentStatus.CAPTURED,
            authorized=zero, captured=zero, refunded=zero))

    @activity.defn
    async def capture_payment(self, req: PaymentRequest) -> PaymentResult:
        """Capture at handover: the whole order, or (an order shipped in parts, ``part`` > 1 or
        not ``final``) the shipment's invoice; a final capture releases the rest."""
        async with self._sessions() as session:  # the payment and the order's total in one read
            payment = (await session.execute(select(Payment).where(Payment.order_id == req.order_id))).scalar_one_or_none()
            if payment is None:
                raise refusal(ErrorType.PAYMENT_DECLINED, f"order {req.order_id} has no payment to capture")
            if payment.status not in (PaymentStatus.AUTHORIZED, PaymentStatus.PARTIALLY_CAPTURED):
                # iDEAL was paid at once; a capture already done is not done again.
                return await self._record_existing(payment)
            # The order's total may have dropped since authorization (out-of-stock lines dropped).
            total = await self._order_total(req.order_id, session)
            by_invoice = not req.final or req.part > 1
            invoice = await session.get(Invoice, (req.order_id, req.part)) if by_invoice else None
        open_amount = min(total, payment.amount) - payment.captured
        if not by_invoice:
            amount = open_amount
        elif invoice is None:
            raise refusal(ErrorType.INVALID_REQUEST, f"order {req.order_id} has no invoice for shipment {req.part} "
                                                     f"to capture")
        else:
            amount = min(invoice.total_amount, open_amount)
        try:
            p = await self._provider.capture(payment_id=payment.id, amount=amount, idempotency_key=req.idempotency_key,
                                             final=req.final)
        except PaymentDeclined as exc:
            raise refusal(ErrorType.PAYMENT_DECLINED, str(exc)) from exc
        return await self._record(req.order_id, p)

    @activity.defn
    async def cancel_payment(self, req: PaymentRequest) -> PaymentResult | None:
        """Void an authorization, or refund what was paid (iDEAL): the compensation of a payment."""
        payment = await self._payment(req.order_id)
        if payment is None:
            return None
        try:
            if payment.status in (PaymentStatus.AUTHORIZED, PaymentStatus.PARTIALLY_CAPTURED):
                p = await self._provider.void(payment_id=payment.id, idempotency_key=req.idempotency_key)
            elif payment.status == PaymentStatus.CAPTURED and payment.captured > payment.refunded:
                p = await self._provider.refund(payment_id=payment.id, amount=payment.captured - payment.refunded,
                                                idempotency_key=req.idempotency_key)
            else:
                return await self._record_existing(payment)
        except PaymentDeclined as exc:
            raise refusal(ErrorType.PAYMENT_DECLINED, str(exc)) from exc
        return await self._record(req.order_id, p)

    @activity.defn
    async def settle_payment_to_order(self, req: PaymentRequest) -> PaymentResult | None:
        """After lines were dropped: refund what an iDEAL customer paid above the new total (a
        card is simply captured for the new total later)."""
        payment = await self._payment(req.order_id)
        if payment is None:
            return None
        excess = payment.captured - payment.refunded - await self._order_total(req.order_id)
        if payment.status != PaymentStatus.CAPTURED or excess <= 0:
            return await self._record_existing(payment)
        try:
            p = await self._provider.refund(payment_id=payment.id, amount=excess, idempotency_key=req.idempotency_key)
        except PaymentDeclined as exc:
            raise refusal(ErrorType.PAYMENT_DECLINED, str(exc)) from exc
        return await self._record(req.order_id, p)

    @activity.defn
    async def reauthorize_payment(self, req: PaymentRequest) -> PaymentResult:
        """Authorize the card again for the order's total (the earlier authorization expired)."""
        return await self._authorize(req, replaces_authorization=True)

    async def _order_total(self, order_id: str, session: AsyncSession | None = None) -> Decimal:
        if session is None:
            async with self._sessions() as session:
                return await self._order_total(order_id, session)
        order = await session.get(Order, order_id, options=ORDER_ONLY)
        if order is None:
            raise refusal(ErrorType.ORDER_NOT_FOUND, f"order {order_id} does not exist")
        return order.total_amount

    async def _record_existing(self, payment: Payment) -> PaymentResult:
        return PaymentResult(payment_id=payment.id, method=PaymentMethod(payment.method),
                             status=PaymentStatus(payment.status), amount=payment.amount,
                             captured=payment.captured or Decimal(0), refunded=payment.refunded or Decimal(0))
