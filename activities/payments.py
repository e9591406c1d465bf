"""Payment activities: authorize at confirmation, capture at handover, void or refund on cancel."""

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.errors import refusal
from activities.ports import PaymentDeclined, PaymentProvider, ProviderPayment
from domain.enums import ErrorType, PaymentMethod, PaymentStatus
from domain.models import PaymentRequest, PaymentResult
from storage.models import Order, Payment
from storage.db import transaction


class PaymentActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], provider: PaymentProvider) -> None:
        self._sessions = sessions
        self._provider = provider

    async def _record(self, order_id: str, p: ProviderPayment) -> PaymentResult:
        async with transaction(self._sessions) as session:
            row = (await session.execute(select(Payment).where(Payment.order_id == order_id))).scalar_one_or_none()
            if row is None:
                row = Payment(id=p.payment_id, order_id=order_id, method=p.method, status=p.status, amount=p.authorized)
                session.add(row)
            row.status = p.status
            row.captured = p.captured
            row.refunded = p.refunded
        return PaymentResult(payment_id=p.payment_id, method=p.method, status=p.status, amount=p.authorized,
                             captured=p.captured, refunded=p.refunded)

    async def _payment(self, order_id: str) -> Payment | None:
        async with self._sessions() as session:
            return (await session.execute(select(Payment).where(Payment.order_id == order_id))).scalar_one_or_none()

    @activity.defn
    async def authorize_payment(self, req: PaymentRequest) -> PaymentResult:
        async with self._sessions() as session:
            order = await session.get(Order, req.order_id)
        if order is None:
            raise refusal(ErrorType.ORDER_NOT_FOUND, f"order {req.order_id} does not exist")
        try:
            p = await self._provider.authorize(
                reference=order.id, method=PaymentMethod(order.payment_method), token=order.payment_token,
                amount=order.total_amount, idempotency_key=req.idempotency_key)
        except PaymentDeclined as exc:
            raise refusal(ErrorType.PAYMENT_DECLINED, str(exc)) from exc
        return await self._record(order.id, p)

    @activity.defn
    async def capture_payment(self, req: PaymentRequest) -> PaymentResult:
        payment = await self._payment(req.order_id)
        if payment is None:
            raise refusal(ErrorType.PAYMENT_DECLINED, f"order {req.order_id} has no payment to capture")
        if payment.status != PaymentStatus.AUTHORIZED:
            # iDEAL was paid at once; a capture already done is not done again.
            return await self._record_existing(payment)
        try:
            p = await self._provider.capture(payment_id=payment.id, amount=payment.amount - payment.captured,
                                             idempotency_key=req.idempotency_key)
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
            if payment.status == PaymentStatus.AUTHORIZED:
                p = await self._provider.void(payment_id=payment.id, idempotency_key=req.idempotency_key)
            elif payment.status == PaymentStatus.CAPTURED and payment.captured > payment.refunded:
                p = await self._provider.refund(payment_id=payment.id, amount=payment.captured - payment.refunded,
                                                idempotency_key=req.idempotency_key)
            else:
                return await self._record_existing(payment)
        except PaymentDeclined as exc:
            raise refusal(ErrorType.PAYMENT_DECLINED, str(exc)) from exc
        return await self._record(req.order_id, p)

    async def _record_existing(self, payment: Payment) -> PaymentResult:
        return PaymentResult(payment_id=payment.id, method=PaymentMethod(payment.method),
                             status=PaymentStatus(payment.status), amount=payment.amount,
                             captured=payment.captured or Decimal(0), refunded=payment.refunded or Decimal(0))
