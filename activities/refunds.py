"""A refund through the payment provider with its credit note: the one way money goes back,
for a return (``activities.returns``) and for a customer-service case (``activities.cases``).

The provider honours the idempotency key; the ``refunds`` row (unique on the key) records the
refund once with its gap-free credit-note number, taken in the transaction that stores it. A
concurrent attempt with the same key that loses the race gets the winner's row back.
"""

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.errors import refusal
from activities.ports import PaymentDeclined, PaymentProvider
from domain.accountability import Actor
from domain.enums import ErrorType
from storage.db import transaction
from storage.models import Payment, Refund
from storage.numbering import next_number
from storage.returns import CREDIT_NOTE_SERIES


@dataclass(frozen=True)
class RefundOrder:
    """What to refund: ``amount`` (shipping included) of the order's payment; ``shipping_amount``
    says how much of it is shipping costs, for the credit note."""

    order_id: str
    payment_id: str
    amount: Decimal
    idempotency_key: str
    shipping_amount: Decimal = Decimal("0.00")
    return_id: str | None = None
    case_id: str | None = None
    actor: Actor | None = None


async def refund_done(session: AsyncSession, idempotency_key: str) -> Refund | None:
    return (await session.execute(select(Refund).where(Refund.idempotency_key == idempotency_key)))\
        .scalar_one_or_none()


async def refund_with_credit_note(sessions: async_sessionmaker[AsyncSession], provider: PaymentProvider,
                                  r: RefundOrder) -> Refund:
    """Refund through the provider (a refusal is non-retryable) and record it with its credit
    note, once per idempotency key."""
    try:
        p = await provider.refund(payment_id=r.payment_id, amount=r.amount, idempotency_key=r.idempotency_key)
    except PaymentDeclined as exc:
        raise refusal(ErrorType.PAYMENT_DECLINED, str(exc)) from exc
    try:
        async with transaction(sessions) as session:
            row = Refund(credit_note_number=await next_number(session, CREDIT_NOTE_SERIES), order_id=r.order_id,
                         return_id=r.return_id, case_id=r.case_id, payment_id=r.payment_id,
                         idempotency_key=r.idempotency_key, amount=r.amount, shipping_amount=r.shipping_amount,
                         actor=r.actor.key_name if r.actor else None, actor_role=r.actor.role if r.actor else None)
            session.add(row)
            await session.execute(update(Payment).where(Payment.id == r.payment_id).values(
                status=p.status.value, captured=p.captured, refunded=p.refunded))
            await session.flush()
            return row
    except IntegrityError:
        # A concurrent attempt with the same key recorded it first (its number is kept).
        async with sessions() as session:
            done = await refund_done(session, r.idempotency_key)
            assert done is not None
            return done
