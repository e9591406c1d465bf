"""Discount codes in the database: issuing, redeeming inside the order's own transaction (a
conditional update on the uses counter decides), and giving a redemption back."""

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.discounts import DiscountKind, DiscountRefused, check_code, discount_amount
from storage.models import DiscountCode, DiscountRedemption


def normalise(code: str) -> str:
    return code.strip().upper()


async def redeem(session: AsyncSession, *, code: str, order_id: str, customer_id: str, subtotal: Decimal,
                 now: datetime | None = None) -> Decimal:
    """Redeem ``code`` for the order inside the caller's write transaction; the discount.
    Raises ``DiscountRefused``: the caller's transaction then rolls back (nothing written)."""
    now = now or datetime.now(UTC)
    code = normalise(code)
    row = await session.get(DiscountCode, code)
    if row is None:
        raise DiscountRefused(f"discount code {code!r} does not exist; check its spelling")
    check_code(code=code, now=now, expires_at=row.expires_at, uses=row.uses, max_uses=row.max_uses,
               min_order_value=row.min_order_value, subtotal=subtotal, customer_id=row.customer_id,
               order_customer_id=customer_id)
    # The read above may be stale under concurrency: the conditional update decides.
    taken = await session.execute(update(DiscountCode).where(DiscountCode.code == code,
                                                              DiscountCode.uses < DiscountCode.max_uses)
                                  .values(uses=DiscountCode.uses + 1))
    if taken.rowcount != 1:
        raise DiscountRefused(f"discount code {code!r} has been used up ({row.max_uses} "
                              f"{'use' if row.max_uses == 1 else 'uses'})")
    amount = discount_amount(DiscountKind(row.kind), row.value, subtotal)
    session.add(DiscountRedemption(order_id=order_id, code=code, amount=amount, redeemed_at=now))
    return amount


async def rediscount(session: AsyncSession, order_id: str, subtotal: Decimal) -> Decimal:
    """The order's discount on a new subtotal (lines were dropped): a percentage is taken of
    the new subtotal, a fixed amount stays but never exceeds it. Zero without a code."""
    redemption = await session.get(DiscountRedemption, order_id)
    if redemption is None or redemption.released_at is not None:
        return Decimal("0.00")
    code = await session.get(DiscountCode, redemption.code)
    assert code is not None
    redemption.amount = (discount_amount(DiscountKind(code.kind), code.value, subtotal)
                         if code.kind == DiscountKind.PERCENTAGE else min(redemption.amount, subtotal))
    return redemption.amount


async def give_back(session: AsyncSession, order_id: str) -> bool:
    """Give the order's redemption back (its use counts no more); idempotent."""
    redemption = await session.get(DiscountRedemption, order_id)
    if redemption is None:
        return False
    released = await session.execute(update(DiscountRedemption).where(
        DiscountRedemption.order_id == order_id, DiscountRedemption.released_at.is_(None))
        .values(released_at=datetime.now(UTC)))
    if released.rowcount != 1:
        return False
    await session.execute(update(DiscountCode).where(DiscountCode.code == redemption.code, DiscountCode.uses > 0)
                          .values(uses=DiscountCode.uses - 1))
    return True


async def order_discount(session: AsyncSession, order_id: str) -> DiscountRedemption | None:
    return await session.get(DiscountRedemption, order_id)


async def list_codes(session: AsyncSession) -> list[DiscountCode]:
    return list((await session.execute(select(DiscountCode).order_by(DiscountCode.created_at.desc()))).scalars())
